#pragma once
// What a master's parts need of its XMPP connection: a thread that owns it
// (libstrophe is not thread-safe), stanzas sent on that thread, and whether
// the connection is up. The component link is the real one; unit tests use
// a link that runs posted work at once and keeps what is sent.
#include <functional>

#include <strophe.h>

namespace muster::hub {

class StanzaLink {
 public:
  virtual ~StanzaLink() = default;
  // Runs `work` on the link's thread (where ctx() and send() may be used).
  virtual void post(std::function<void()> work) = 0;
  virtual xmpp_ctx_t* ctx() const = 0;
  virtual void send(xmpp_stanza_t* stanza) = 0;
  virtual bool connected() const = 0;
};

}  // namespace muster::hub
