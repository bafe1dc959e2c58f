#pragma once
// Reads several commands share.
#include <functional>
#include <map>
#include <string>

#include "api_client.hpp"

namespace muster::cli {

using Hostnames = std::map<std::string, std::string>;  // agent id -> host name

// Calls `each` for every agent of the tenant, page by page (GET /api/v1/agents).
void for_each_agent(ApiClient& api, const std::function<void(const cJSON*)>& each);

// Every agent's host name.
Hostnames agent_hostnames(ApiClient& api);

// The names to show: a host name several agents share (cloned machines)
// gets the first 8 characters of each agent's id, "web-1/0f8fad5b", so
// every line says which agent it came from.
Hostnames display_names(const Hostnames& names);

// The host name, or the first 8 characters of the agent id when unknown.
std::string host_or_id(const Hostnames& names, const std::string& agent_id);

// Calls `each` for every task of the job, page by page (GET .../tasks).
void for_each_task(ApiClient& api, const std::string& job_id, const std::function<void(cJSON*)>& each);

}  // namespace muster::cli
