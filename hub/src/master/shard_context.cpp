#include "master/shard_context.hpp"

#include "muster/proto/messages.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {

std::string ShardContext::agent_jid(const std::string& agent_id) const {
  return agent_id + "@" + region.xmpp_domain + "/" + proto::kAgentResource;
}

std::string ShardContext::agent_of(const std::string& jid) const {
  const auto at = jid.find('@');
  if (at == std::string::npos) return {};
  const auto slash = jid.find('/', at);
  const std::string domain = jid.substr(at + 1, slash == std::string::npos ? std::string::npos : slash - at - 1);
  const std::string node = jid.substr(0, at);
  if (domain != region.xmpp_domain || !proto::is_uuid(node)) return {};
  return node;
}

void ShardContext::send(xmpp_stanza_t* stanza) const {
  // XEP-0114 §3.1: a component addresses its stanzas 'from' its own domain.
  // Prosody fills in a missing 'from'; ejabberd (check_from, the default)
  // answers it with an invalid-from stream error and closes the stream.
  if (xmpp_stanza_get_from(stanza) == nullptr) xmpp_stanza_set_from(stanza, shard.c_str());
  link.send(stanza);
}

}  // namespace muster::hub
