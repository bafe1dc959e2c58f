#pragma once
// Jobs and their tasks (api role): validate, resolve targets, write, enqueue.
#include <map>
#include <string>
#include <vector>

#include "core/agents.hpp"
#include "core/api_keys.hpp"
#include "core/auth.hpp"
#include "core/job_request.hpp"
#include "store/api_store.hpp"

namespace muster::hub {

struct SubmittedJob {
  std::string id;                   // empty for a dry run
  std::vector<std::string> agents;  // the targets, resolved
};

class Jobs {
 public:
  Jobs(ApiStore& store, Agents& agents, const HubConfig& config, const ApiKeys& keys)
      : store_(store), agents_(agents), config_(config), keys_(keys) {}

  // Validates and resolves targets; writes and enqueues unless `dry_run`.
  SubmittedJob submit(const Principal& principal, const std::string& body, bool dry_run);
  std::string get_json(const Principal& principal, const std::string& job_id);
  std::string list_json(const Principal& principal, const Page& page);
  std::string tasks_json(const Principal& principal, const std::string& job_id, const Page& page);
  std::string cancel(const Principal& principal, const std::string& job_id);

 private:
  // Throws ApiError 429 when the tenant has submitted its jobs of this minute.
  void count_against_quota(const Principal& principal);
  Record load_job(const Principal& principal, const std::string& job_id);
  // The caller's agents the request targets (agent id → shard); 400 for an
  // unknown listed agent.
  std::map<std::string, std::string> resolve_targets(const Principal& principal, const JobRequest& req);
  // Signs the job's statement and writes the job, its tasks and their queue entries.
  void write_job(const Principal& principal, const JobRequest& req, const std::string& job_id,
                 const std::map<std::string, std::string>& chosen);

  ApiStore& store_;
  Agents& agents_;
  const HubConfig& config_;
  const ApiKeys& keys_;
};

proto::JsonPtr job_json(const std::string& job_id, const Record& fields);

}  // namespace muster::hub
