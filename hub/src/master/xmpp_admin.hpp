#pragma once
// The master's administration of its XMPP server, through standard XEPs
// only: XEP-0133 commands (accounts, sessions, the online users list), the
// disco#items fallback ejabberd needs, and the greeting that makes online
// agents announce themselves after the component (re)connects.
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "master/shard_context.hpp"
#include "master/store_writer.hpp"

namespace muster::hub {

class XmppAdmin {
 public:
  XmppAdmin(const ShardContext& shard, StoreWriter& writer) : shard_(shard), writer_(writer) {}

  // XMPP thread: asks the server who is online and greets them; each agent
  // answers with its presence and resends its unacknowledged results.
  // Directed presence is not replayed to a component that reconnects, so
  // this follows every (re)connect, and every return of the store.
  void greet_online_agents();
  // XMPP thread: an iq result or error from the server's own domain.
  void on_server_reply(xmpp_stanza_t* stanza);
  // Any thread: the api asked (through the store) for an account to be made
  // or removed; the outcome is answered at muster:reply:<request>.
  void change_account(const std::string& op, const std::string& request, const std::string& jid,
                      const std::string& password);

 private:
  void send_command(const std::string& id, const std::string& node,
                    const std::vector<std::pair<std::string, std::string>>& fields);
  void request_online_items();
  void on_command_reply(xmpp_stanza_t* stanza, const std::string& request_id);
  void on_online_users(xmpp_stanza_t* stanza);
  void on_online_items(xmpp_stanza_t* stanza);
  void greet(const std::set<std::string>& agents);
  void answer(const std::string& request_id, const std::string& answer);

  const ShardContext& shard_;
  StoreWriter& writer_;
};

}  // namespace muster::hub
