#pragma once
// The api store in memory, for unit tests of Auth, Agents and Jobs: the
// records as RedisApiStore keeps them, without expiry by time (a token's
// record carries expires_at, which Auth checks itself). Jobs written are kept
// whole, with their queue entries per shard; change_account answers with
// `account_answer` (none: as if no master answered).
#include <atomic>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "store/api_store.hpp"

namespace muster::hub::testing {

class MemoryApiStore final : public ApiStore {
 public:
  std::recursive_mutex mutex;
  std::atomic<bool> down{false};
  std::optional<std::string> account_answer = std::string("ok");
  std::vector<std::string> account_requests;  // "<shard> <op> <jid>"
  std::map<std::string, Record> tokens;       // by hash
  std::map<std::string, std::set<std::string>> tokens_by_tenant;
  std::map<std::string, IdRecords> audit;  // by tenant, oldest first
  std::map<std::string, Record> agents;
  std::set<std::string> revoked;
  std::set<std::string> refused;  // revoked, or of a suspended tenant
  std::map<std::string, Record> tenant_records;
  std::map<std::string, std::int64_t> tenant_job_counts;  // "<tenant>:<minute>"
  std::map<std::string, NewJob> jobs;
  std::map<std::string, std::vector<std::string>> queues;  // by shard: "<job>|<agent>"
  std::map<std::string, std::map<std::string, std::string>> task_states;  // job → agent → state

  void ping() override;
  void put_token(const std::string& hash, const std::string& tenant, const Record& record,
                 std::int64_t ttl_s) override;
  Record token(const std::string& hash) override;
  IdRecords tenant_tokens(const std::string& tenant) override;
  void delete_token(const std::string& tenant, const std::string& hash) override;
  std::int64_t take_enroll_use(const std::string& hash) override;
  void refund_enroll_use(const std::string& hash) override;

  bool create_tenant(const std::string& name, const Record& record) override;
  Record tenant(const std::string& name) override;
  IdRecords tenants() override;
  void update_tenant(const std::string& name, const Record& changes) override;
  std::int64_t count_tenant_job(const std::string& name, std::int64_t minute, std::int64_t limit) override;
  std::size_t tenant_agent_count(const std::string& tenant) override;
  void refuse_tenant_agents(const std::string& tenant, bool refused) override;

  void append_audit(const std::string& tenant, const std::vector<std::pair<std::string, std::string>>& entry) override;
  IdRecords recent_audit(const std::string& tenant, std::size_t limit) override;

  bool agent_id_used(const std::string& agent_id) override;
  void put_agent(const std::string& agent_id, const std::string& tenant, const Record& record,
                 const proto::StringMap& labels) override;
  Record agent(const std::string& agent_id) override;
  IdRecords tenant_agents(const std::string& tenant) override;
  AgentPage tenant_agent_page(const std::string& tenant, const std::string& after, std::size_t limit) override;
  IdRecords tenant_agents_among(const std::string& tenant, const std::vector<std::string>& ids) override;
  std::vector<std::string> agents_with_labels(const std::string& tenant, const proto::StringMap& labels) override;
  void ensure_agent_indexes() override {}
  void revoke_agent(const std::string& agent_id, const std::string& tenant, const proto::StringMap& labels) override;
  std::optional<std::string> change_account(const std::string& shard, const std::string& op, const std::string& jid,
                                            const std::string& password, int timeout_s) override;

  void write_job(const NewJob& job) override;
  Record job(const std::string& job_id) override;
  JobPage tenant_jobs(const std::string& tenant, const std::optional<std::string>& before,
                      std::size_t limit) override;
  IdRecords job_tasks(const std::string& job_id, std::size_t offset, std::size_t limit) override;
  void cancel_job(const std::string& job_id) override;

 private:
  void check_up() const;
};

}  // namespace muster::hub::testing
