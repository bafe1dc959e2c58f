// muster agents, muster agents revoke.
#include <map>

#include "commands.hpp"
#include "display.hpp"
#include "errors.hpp"
#include "queries.hpp"
#include "terminal.hpp"

namespace muster::cli {
namespace {

// "k=v" into its parts; throws a usage error naming `option`.
std::pair<std::string, std::string> key_value(const std::string& option, const std::string& text) {
  const auto eq = text.find('=');
  if (eq == std::string::npos || eq == 0) throw usage_error(option + " takes KEY=VALUE, not \"" + text + "\"");
  return {text.substr(0, eq), text.substr(eq + 1)};
}

bool agent_matches(const cJSON* agent, const ParsedOptions& o) {
  if (o.has("--status") && field_text(agent, "status") != o.value("--status")) return false;
  if (o.has("--region") && field_text(agent, "region") != o.value("--region")) return false;
  const cJSON* labels = cJSON_GetObjectItemCaseSensitive(agent, "labels");
  for (const auto& wanted : o.all("--label")) {
    const auto [key, value] = key_value("--label", wanted);
    if (field_text(labels, key.c_str()) != value || !cJSON_HasObjectItem(labels, key.c_str())) return false;
  }
  return true;
}

int list_agents(Invocation& in) {
  for (const auto& l : in.options().all("--label")) key_value("--label", l);  // usage errors before the call
  proto::JsonPtr kept(cJSON_CreateArray());
  std::map<std::string, std::size_t> by_status;
  Table table({"ID", "HOSTNAME", "STATUS", "REGION", "VERSION", "LABELS"});
  for_each_agent(in.api(), [&](const cJSON* a) {
    if (!agent_matches(a, in.options())) return;
    ++by_status[field_text(a, "status")];
    cJSON_AddItemToArray(kept.get(), cJSON_Duplicate(a, true));
    table.add({field_text(a, "id"), field_text(a, "hostname"), field_text(a, "status"), field_text(a, "region"),
               field_text(a, "agent_version"), labels_text(a, "labels")});
  });
  if (in.json()) {
    std::printf("%s\n", proto::JsonBuilder().add_node("agents", std::move(kept)).dump().c_str());
    return kExitOk;
  }
  if (table.rows() > 0) table.print(stdout, stdout_is_terminal() ? terminal_width() : 0);
  std::string counts;
  for (const auto& [status, n] : by_status) counts += (counts.empty() ? "" : ", ") + std::to_string(n) + " " + status;
  std::printf("%zu %s%s%s\n", table.rows(), table.rows() == 1 ? "agent" : "agents", counts.empty() ? "" : ": ",
              counts.c_str());
  return kExitOk;
}

int revoke_agent(Invocation& in) {
  const auto& ids = in.options().positional;
  if (ids.size() != 1) throw usage_error("muster agents revoke takes one agent ID");
  const std::string raw = in.api().call_raw("DELETE", "/api/v1/agents/" + ids[0]);
  if (in.json()) {
    std::printf("%s\n", raw.c_str());
    return kExitOk;
  }
  auto agent = proto::parse_object(raw);
  const std::string host = agent ? field_text(agent->get(), "hostname") : "";
  std::printf("agent %s%s revoked: its XMPP account is deleted and the hub refuses it from now on\n", ids[0].c_str(),
              host.empty() ? "" : (" (" + host + ")").c_str());
  return kExitOk;
}

}  // namespace

std::vector<Command> agent_commands() {
  return {
      {"agents", "[--status S] [--label K=V ...] [--region R]",
       "list agents: id, host name, status, region, version, labels; counts by status",
       "Lists the agents of the token's tenant (revoked agents are not listed).\n"
       "Filters combine: an agent is shown if it matches all of them.\n",
       {{"--status", "S", "only agents with this status (online, offline)"},
        {"--label", "K=V", "only agents with this label", true},
        {"--region", "R", "only agents of this region"}},
       list_agents},
      {"agents revoke", "ID", "revoke an agent (admin): delete its XMPP account, refuse it from now on",
       "The agent's UUID is never given to another agent. Its tasks in flight fail.\n", {}, revoke_agent},
  };
}

}  // namespace muster::cli
