#include "queries.hpp"

#include "display.hpp"

namespace muster::cli {

void for_each_agent(ApiClient& api, const std::function<void(const cJSON*)>& each) {
  std::string cursor;
  do {
    auto page = api.call("GET", "/api/v1/agents?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
    const cJSON* agents = cJSON_GetObjectItemCaseSensitive(page.get(), "agents");
    for (const cJSON* a = cJSON_IsArray(agents) ? agents->child : nullptr; a != nullptr; a = a->next) each(a);
    cursor = field_text(page.get(), "next_cursor");
  } while (!cursor.empty());
}

Hostnames agent_hostnames(ApiClient& api) {
  Hostnames names;
  for_each_agent(api, [&](const cJSON* a) { names[field_text(a, "id")] = field_text(a, "hostname"); });
  return names;
}

Hostnames display_names(const Hostnames& names) {
  std::map<std::string, int> uses;
  for (const auto& entry : names) ++uses[entry.second];
  Hostnames shown;
  for (const auto& [id, hostname] : names) {
    shown[id] = uses[hostname] > 1 && !hostname.empty() ? hostname + "/" + id.substr(0, 8) : hostname;
  }
  return shown;
}

std::string host_or_id(const Hostnames& names, const std::string& agent_id) {
  const auto it = names.find(agent_id);
  return it != names.end() && !it->second.empty() ? it->second : agent_id.substr(0, 8);
}

void for_each_task(ApiClient& api, const std::string& job_id, const std::function<void(cJSON*)>& each) {
  std::string cursor;
  do {
    auto page = api.call("GET", "/api/v1/jobs/" + job_id + "/tasks?limit=100" +
                                    (cursor.empty() ? "" : "&cursor=" + cursor));
    cJSON* tasks = cJSON_GetObjectItemCaseSensitive(page.get(), "tasks");
    for (cJSON* t = cJSON_IsArray(tasks) ? tasks->child : nullptr; t != nullptr; t = t->next) each(t);
    cursor = field_text(page.get(), "next_cursor");
  } while (!cursor.empty());
}

}  // namespace muster::cli
