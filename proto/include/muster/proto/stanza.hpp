#pragma once
// Building and reading Muster payload stanzas with libstrophe, shared by the
// agent and the master so both sides agree on the XML shape.
#include <optional>
#include <string>

#include <strophe.h>

namespace muster::proto {

// Owns one stanza reference.
class StanzaRef {
 public:
  explicit StanzaRef(xmpp_stanza_t* stanza) : stanza_(stanza) {}
  ~StanzaRef() {
    if (stanza_ != nullptr) xmpp_stanza_release(stanza_);
  }
  StanzaRef(StanzaRef&& other) noexcept : stanza_(other.stanza_) { other.stanza_ = nullptr; }
  StanzaRef(const StanzaRef&) = delete;
  StanzaRef& operator=(const StanzaRef&) = delete;
  StanzaRef& operator=(StanzaRef&&) = delete;
  xmpp_stanza_t* get() const { return stanza_; }

 private:
  xmpp_stanza_t* stanza_;
};

// <iq type=TYPE id=ID to=TO><ELEMENT xmlns='urn:muster:1'>JSON</ELEMENT></iq>
StanzaRef make_payload_iq(xmpp_ctx_t* ctx, const char* type, const std::string& id, const std::string& to,
                          const char* element, const std::string& json);
// <message to=TO><ELEMENT xmlns='urn:muster:1'>JSON</ELEMENT></message>
StanzaRef make_payload_message(xmpp_ctx_t* ctx, const std::string& to, const char* element, const std::string& json);
// <presence to=TO><facts xmlns='urn:muster:1'>JSON</facts></presence>
StanzaRef make_facts_presence(xmpp_ctx_t* ctx, const std::string& to, const std::string& json);
// <iq type='result' id=ID to=TO/>
StanzaRef make_iq_result(xmpp_ctx_t* ctx, const std::string& id, const std::string& to);
// <iq type='error' id=ID to=TO><error type=ERROR_TYPE><CONDITION xmlns=stanzas/><text>TEXT</text></error></iq>
StanzaRef make_iq_error(xmpp_ctx_t* ctx, const std::string& id, const std::string& to, const char* error_type,
                        const char* condition, const std::string& text);

// The JSON text of the ELEMENT child in Muster's namespace, if present.
std::optional<std::string> payload_text(xmpp_stanza_t* stanza, const char* element);
// Attribute or empty string.
std::string attribute(xmpp_stanza_t* stanza, const char* name);
// The defined condition of an error stanza and its text, e.g. "not-authorized: wrong sender".
std::string error_description(xmpp_stanza_t* stanza);

}  // namespace muster::proto
