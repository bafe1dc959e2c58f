#pragma once
// What the api role asks of the store, in its own words: tokens, the audit
// trail, agents and their label and id indexes, jobs and their tasks, account changes
// handed to a shard's master. The Redis implementation (redis_api_store.hpp)
// holds the commands and keys; unit tests use an in-memory one. A verb that
// takes a batch is one round trip in Redis.
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/record.hpp"
#include "store/store_error.hpp"

namespace muster::hub {

// A job as written once: its record, one task per agent, and the order in
// which they reach their shards' queues.
struct NewJob {
  struct Task {
    std::string agent_id, task_id, shard, proof;
  };
  std::string id;
  std::string tenant;
  double created_at = 0;
  double watch_at = 0;  // when the job watch first looks at it
  Record record;
  std::vector<Task> tasks;
};

class ApiStore {
 public:
  virtual ~ApiStore() = default;

  virtual void ping() = 0;

  // Tokens, by the SHA-256 of their secret.
  virtual void put_token(const std::string& hash, const std::string& tenant, const Record& record,
                         std::int64_t ttl_s) = 0;
  // Empty when unknown or expired.
  virtual Record token(const std::string& hash) = 0;
  // The tenant's live tokens (expired ones are forgotten on the way).
  virtual IdRecords tenant_tokens(const std::string& tenant) = 0;
  virtual void delete_token(const std::string& tenant, const std::string& hash) = 0;
  // Takes one use of an enrollment token if one is left: the uses left after
  // it, or -1 (none left, or gone).
  virtual std::int64_t take_enroll_use(const std::string& hash) = 0;
  virtual void refund_enroll_use(const std::string& hash) = 0;

  // Tenants. create_tenant writes the record only if the name was never
  // used (false: it exists, or existed and was deleted).
  virtual bool create_tenant(const std::string& name, const Record& record) = 0;
  // Empty when the name was never used.
  virtual Record tenant(const std::string& name) = 0;
  virtual IdRecords tenants() = 0;
  virtual void update_tenant(const std::string& name, const Record& changes) = 0;
  // Counts one job of the tenant in `minute` unless `limit` are counted
  // already: the count after it, or -1 (over the limit; nothing counted).
  virtual std::int64_t count_tenant_job(const std::string& name, std::int64_t minute, std::int64_t limit) = 0;
  virtual std::size_t tenant_agent_count(const std::string& tenant) = 0;
  // Refuses (or accepts again) every agent of the tenant: the masters ignore
  // what refused agents send. Revoked agents stay refused.
  virtual void refuse_tenant_agents(const std::string& tenant, bool refused) = 0;

  // The audit trail: newest first, each entry with its id.
  virtual void append_audit(const std::string& tenant, const std::vector<std::pair<std::string, std::string>>& entry) = 0;
  virtual IdRecords recent_audit(const std::string& tenant, std::size_t limit) = 0;

  // Agents.
  virtual bool agent_id_used(const std::string& agent_id) = 0;
  virtual void put_agent(const std::string& agent_id, const std::string& tenant, const Record& record,
                         const proto::StringMap& labels) = 0;
  virtual Record agent(const std::string& agent_id) = 0;
  virtual IdRecords tenant_agents(const std::string& tenant) = 0;
  // The tenant's agents in id order from the first id after `after` (empty:
  // from the start), at most `limit`, with their records.
  struct AgentPage {
    IdRecords agents;
    std::size_t total = 0;  // the tenant's agents in all
    bool more = false;      // agents follow this page
  };
  virtual AgentPage tenant_agent_page(const std::string& tenant, const std::string& after, std::size_t limit) = 0;
  // Those of `ids` that are the tenant's, with their records.
  virtual IdRecords tenant_agents_among(const std::string& tenant, const std::vector<std::string>& ids) = 0;
  // The tenant's agents that carry every label (a revoked agent carries none).
  virtual std::vector<std::string> agents_with_labels(const std::string& tenant, const proto::StringMap& labels) = 0;
  // Builds the label and id indexes from every agent record if they were never built.
  virtual void ensure_agent_indexes() = 0;
  // Refused from now on by every master, out of the tenant and its indexes.
  virtual void revoke_agent(const std::string& agent_id, const std::string& tenant,
                            const proto::StringMap& labels) = 0;
  // Asks the shard's master to change an XMPP account and waits for its
  // answer ("ok" or the server's refusal); none within the timeout: nullopt.
  virtual std::optional<std::string> change_account(const std::string& shard, const std::string& op,
                                                    const std::string& jid, const std::string& password,
                                                    int timeout_s) = 0;

  // Jobs: the records all or nothing, then the queue entries.
  virtual void write_job(const NewJob& job) = 0;
  virtual Record job(const std::string& job_id) = 0;
  // Newest first, created before `before` (none: from the newest). Jobs past
  // their retention are forgotten on the way, so a page may come out short
  // while `scanned` (what the page covered) is full.
  struct JobPage {
    IdRecords jobs;
    std::size_t scanned = 0;
    std::string last_created_at;  // of the last job covered: the next page's `before`
  };
  virtual JobPage tenant_jobs(const std::string& tenant, const std::optional<std::string>& before,
                              std::size_t limit) = 0;
  // Tasks in the job's order from `offset`: (agent id, task record).
  virtual IdRecords job_tasks(const std::string& job_id, std::size_t offset, std::size_t limit) = 0;
  // Marks the job cancelled and ends its pending tasks; the masters of the
  // shards whose tasks were already sent are told to cancel them.
  virtual void cancel_job(const std::string& job_id) = 0;
};

}  // namespace muster::hub
