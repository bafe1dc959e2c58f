#include "master/xmpp_admin.hpp"

#include <cstring>
#include <sstream>

#include "muster/proto/log.hpp"
#include "muster/proto/stanza.hpp"
#include "muster/proto/uuid.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

constexpr const char* kControlIdPrefix = "c:";
constexpr const char* kOnlineUsersId = "online-users";
constexpr const char* kOnlineItemsId = "online-items";
constexpr const char* kDiscoItemsNs = "http://jabber.org/protocol/disco#items";
// ejabberd's XEP-0030 node that lists every online session (listed in the
// server's own disco#items; open to the `configure` ACL, like XEP-0133).
constexpr const char* kOnlineUsersNode = "online users";
constexpr const char* kCommandsNs = "http://jabber.org/protocol/commands";
constexpr const char* kAdminNode = "http://jabber.org/protocol/admin#";
constexpr const char* kDataNs = "jabber:x:data";

xmpp_stanza_t* add_child(xmpp_ctx_t* ctx, xmpp_stanza_t* parent, const char* name) {
  xmpp_stanza_t* child = xmpp_stanza_new(ctx);
  xmpp_stanza_set_name(child, name);
  xmpp_stanza_add_child(parent, child);
  xmpp_stanza_release(child);
  return child;
}

void add_text(xmpp_ctx_t* ctx, xmpp_stanza_t* parent, const std::string& text) {
  xmpp_stanza_t* node = xmpp_stanza_new(ctx);
  xmpp_stanza_set_text(node, text.c_str());
  xmpp_stanza_add_child(parent, node);
  xmpp_stanza_release(node);
}

std::string text_of(xmpp_stanza_t* stanza) {
  char* text = xmpp_stanza_get_text(stanza);
  if (text == nullptr) return {};
  std::string out(text);
  xmpp_free(xmpp_stanza_get_context(stanza), text);
  return out;
}

}  // namespace

void XmppAdmin::greet_online_agents() { send_command(kOnlineUsersId, "get-online-users-list", {{"max_items", "all"}}); }

void XmppAdmin::on_server_reply(xmpp_stanza_t* stanza) {
  const std::string id = proto::attribute(stanza, "id");
  if (id.compare(0, std::strlen(kControlIdPrefix), kControlIdPrefix) == 0) {
    on_command_reply(stanza, id.substr(std::strlen(kControlIdPrefix)));
  } else if (id == kOnlineUsersId) {
    if (proto::attribute(stanza, "type") == "result") {
      on_online_users(stanza);
    } else {
      log::info("master", "get-online-users-list refused (" + proto::error_description(stanza) +
                             "); asking disco#items");
      request_online_items();
    }
  } else if (id == kOnlineItemsId) {
    on_online_items(stanza);
  }
}

void XmppAdmin::change_account(const std::string& op, const std::string& request, const std::string& jid,
                               const std::string& password) {
  shard_.link.post([this, op, request, jid, password] {
    if (!shard_.link.connected()) {
      answer(request, "the master is not connected to the XMPP server");
      return;
    }
    if (op == "add-user") {
      send_command(kControlIdPrefix + request, "add-user",
                   {{"accountjid", jid}, {"password", password}, {"password-verify", password}});
    } else {
      // End the live session first, then remove the account for good.
      // XEP-0133 names the field accountjids; ejabberd (23.01) reads only
      // accountjid. Each server ignores the field it does not know.
      send_command("end-" + request, "end-user-session", {{"accountjids", jid}, {"accountjid", jid}});
      send_command(kControlIdPrefix + request, "delete-user", {{"accountjids", jid}});
    }
  });
}

void XmppAdmin::answer(const std::string& request_id, const std::string& text) {
  writer_.post([this, request_id, text] {
    shard_.store.post_admin_reply(request_id, text);
  });
}

void XmppAdmin::send_command(const std::string& id, const std::string& node,
                             const std::vector<std::pair<std::string, std::string>>& fields) {
  // XEP-0133 in one round trip: execute with the submitted form.
  xmpp_ctx_t* ctx = shard_.link.ctx();
  proto::StanzaRef iq(xmpp_iq_new(ctx, "set", id.c_str()));
  xmpp_stanza_set_to(iq.get(), shard_.region.xmpp_domain.c_str());
  xmpp_stanza_t* command = add_child(ctx, iq.get(), "command");
  xmpp_stanza_set_ns(command, kCommandsNs);
  xmpp_stanza_set_attribute(command, "node", (kAdminNode + node).c_str());
  xmpp_stanza_set_attribute(command, "action", "execute");
  xmpp_stanza_t* form = add_child(ctx, command, "x");
  xmpp_stanza_set_ns(form, kDataNs);
  xmpp_stanza_set_type(form, "submit");
  std::vector<std::pair<std::string, std::string>> all{{"FORM_TYPE", "http://jabber.org/protocol/admin"}};
  all.insert(all.end(), fields.begin(), fields.end());
  for (const auto& [var, value] : all) {
    xmpp_stanza_t* field = add_child(ctx, form, "field");
    xmpp_stanza_set_attribute(field, "var", var.c_str());
    if (var == "FORM_TYPE") xmpp_stanza_set_type(field, "hidden");
    add_text(ctx, add_child(ctx, field, "value"), value);
  }
  shard_.send(iq.get());
}

void XmppAdmin::request_online_items() {
  // ejabberd 23.01 has no get-online-users-list command (service-unavailable)
  // but lists online sessions as disco#items of its "online users" node.
  proto::StanzaRef iq(xmpp_iq_new(shard_.link.ctx(), "get", kOnlineItemsId));
  xmpp_stanza_set_to(iq.get(), shard_.region.xmpp_domain.c_str());
  xmpp_stanza_t* query = add_child(shard_.link.ctx(), iq.get(), "query");
  xmpp_stanza_set_ns(query, kDiscoItemsNs);
  xmpp_stanza_set_attribute(query, "node", kOnlineUsersNode);
  shard_.send(iq.get());
}

void XmppAdmin::on_command_reply(xmpp_stanza_t* stanza, const std::string& request_id) {
  if (!proto::is_uuid(request_id)) return;
  std::string text = "ok";
  if (proto::attribute(stanza, "type") == "error") {
    text = proto::error_description(stanza);  // ejabberd reports failures as iq errors
  } else if (xmpp_stanza_t* command = xmpp_stanza_get_child_by_name(stanza, "command")) {
    // Prosody answers type=result and puts failures in <note type='error'>.
    for (xmpp_stanza_t* c = xmpp_stanza_get_children(command); c != nullptr; c = xmpp_stanza_get_next(c)) {
      const char* name = xmpp_stanza_get_name(c);
      if (name != nullptr && std::strcmp(name, "note") == 0 && proto::attribute(c, "type") == "error") {
        text = text_of(c);
        if (text.empty()) text = "refused";
      }
    }
  }
  answer(request_id, text);
}

void XmppAdmin::on_online_users(xmpp_stanza_t* stanza) {
  xmpp_stanza_t* command = xmpp_stanza_get_child_by_name(stanza, "command");
  xmpp_stanza_t* form = command != nullptr ? xmpp_stanza_get_child_by_name_and_ns(command, "x", kDataNs) : nullptr;
  std::set<std::string> agents;
  for (xmpp_stanza_t* f = form != nullptr ? xmpp_stanza_get_children(form) : nullptr; f != nullptr;
       f = xmpp_stanza_get_next(f)) {
    if (proto::attribute(f, "var") != "onlineuserjids") continue;
    for (xmpp_stanza_t* v = xmpp_stanza_get_children(f); v != nullptr; v = xmpp_stanza_get_next(v)) {
      std::istringstream lines(text_of(v));
      for (std::string line; std::getline(lines, line);) {
        const std::string agent_id = shard_.agent_of(line.substr(0, line.find(' ')));
        if (!agent_id.empty()) agents.insert(agent_id);
      }
    }
  }
  greet(agents);
}

void XmppAdmin::on_online_items(xmpp_stanza_t* stanza) {
  if (proto::attribute(stanza, "type") != "result") {
    // Agents are still seen when they next send presence (on reconnect), and a
    // task to an agent that left bounces and parks; only the greeting is lost.
    log::warn("master", "cannot list the online agents: " + proto::error_description(stanza) +
                           " (allow this component XEP-0133 get-online-users-list or the disco node 'online users')");
    return;
  }
  std::set<std::string> agents;
  xmpp_stanza_t* query = xmpp_stanza_get_child_by_name_and_ns(stanza, "query", kDiscoItemsNs);
  for (xmpp_stanza_t* item = query != nullptr ? xmpp_stanza_get_children(query) : nullptr; item != nullptr;
       item = xmpp_stanza_get_next(item)) {
    const char* name = xmpp_stanza_get_name(item);
    if (name == nullptr || std::strcmp(name, "item") != 0) continue;
    const std::string agent_id = shard_.agent_of(proto::attribute(item, "jid"));
    if (!agent_id.empty()) agents.insert(agent_id);
  }
  greet(agents);
}

void XmppAdmin::greet(const std::set<std::string>& agents) {
  // Each agent answers with its presence (which marks it online and releases
  // its parked tasks) and resends unacknowledged results.
  log::info("master", "component up; greeting " + std::to_string(agents.size()) + " online agent(s)");
  for (const auto& agent_id : agents) {
    proto::StanzaRef presence(xmpp_presence_new(shard_.link.ctx()));
    xmpp_stanza_set_to(presence.get(), shard_.agent_jid(agent_id).c_str());
    shard_.send(presence.get());
  }
}

}  // namespace muster::hub
