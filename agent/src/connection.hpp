#pragma once
// The agent's XMPP link as its protocol logic sees it: stanzas in and out as
// plain values, so that logic runs, and is tested, without a server.
#include <optional>
#include <string>

namespace muster::agent {

// An iq addressed to the agent, read out of its stanza.
struct InboundIq {
  std::string type;  // get, set, result or error
  std::string id;
  std::string from;
  bool ping = false;                  // carries an XEP-0199 <ping/>
  std::optional<std::string> task;    // JSON of a Muster <task/> child
  std::optional<std::string> cancel;  // JSON of a Muster <cancel/> child
  std::string error;                  // type error: its condition and text
};

struct InboundPresence {
  std::string from;
  std::string type;  // empty: available
};

// What happens on the link, delivered in the order it happens.
class ConnectionEvents {
 public:
  virtual ~ConnectionEvents() = default;
  virtual void on_connected() = 0;
  virtual void on_disconnected() = 0;
  virtual void on_iq(const InboundIq& iq) = 0;
  virtual void on_presence(const InboundPresence& presence) = 0;
};

// What the protocol logic sends: one call, one stanza. The Muster payload
// shapes are those of muster/proto/stanza.hpp.
class Connection {
 public:
  virtual ~Connection() = default;
  // <iq type=TYPE id=ID to=TO><ELEMENT xmlns='urn:muster:1'>JSON</ELEMENT></iq>
  virtual void send_payload_iq(const char* type, const std::string& id, const std::string& to, const char* element,
                               const std::string& json) = 0;
  // <message to=TO><ELEMENT xmlns='urn:muster:1'>JSON</ELEMENT></message>
  virtual void send_payload_message(const std::string& to, const char* element, const std::string& json) = 0;
  // <presence to=TO><facts xmlns='urn:muster:1'>JSON</facts></presence>
  virtual void send_facts_presence(const std::string& to, const std::string& json) = 0;
  // <presence type='unavailable' to=TO/>
  virtual void send_unavailable_presence(const std::string& to) = 0;
  // <iq type='result' id=ID to=TO/>
  virtual void send_iq_result(const std::string& id, const std::string& to) = 0;
  // <iq type='error' id=ID to=TO><error type=ERROR_TYPE><CONDITION/><text>TEXT</text></error></iq>
  virtual void send_iq_error(const std::string& id, const std::string& to, const char* error_type,
                             const char* condition, const std::string& text) = 0;
  // <iq type='get' id=ID to=TO><ping xmlns='urn:xmpp:ping'/></iq>
  virtual void send_ping(const std::string& id, const std::string& to) = 0;
  // Drops the stream; on_disconnected() follows once it is closed.
  virtual void disconnect() = 0;
};

}  // namespace muster::agent
