#pragma once
// The api store on Redis: every command and key (keys.hpp) the api role uses.
#include "store/api_store.hpp"
#include "store/store.hpp"

namespace muster::hub {

class RedisApiStore final : public ApiStore {
 public:
  explicit RedisApiStore(Store& store) : store_(store) {}

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
  void ensure_agent_indexes() override;
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
  Store& store_;
};

// A hash's fields from an HGETALL reply.
Record to_record(const Reply& hgetall);

}  // namespace muster::hub
