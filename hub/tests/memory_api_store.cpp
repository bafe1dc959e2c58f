#include "memory_api_store.hpp"

#include <algorithm>

namespace muster::hub::testing {

using Lock = std::lock_guard<std::recursive_mutex>;

void MemoryApiStore::check_up() const {
  if (down) throw StoreError("connection refused (store down)");
}

void MemoryApiStore::ping() {
  Lock lock(mutex);
  check_up();
}

void MemoryApiStore::put_token(const std::string& hash, const std::string& tenant, const Record& record,
                               std::int64_t) {
  Lock lock(mutex);
  check_up();
  tokens[hash] = record;
  tokens_by_tenant[tenant].insert(hash);
}

Record MemoryApiStore::token(const std::string& hash) {
  Lock lock(mutex);
  check_up();
  return tokens.count(hash) != 0 ? tokens[hash] : Record{};
}

IdRecords MemoryApiStore::tenant_tokens(const std::string& tenant) {
  Lock lock(mutex);
  check_up();
  IdRecords out;
  for (const auto& hash : tokens_by_tenant[tenant]) {
    if (tokens.count(hash) != 0) out.emplace_back(hash, tokens[hash]);
  }
  return out;
}

void MemoryApiStore::delete_token(const std::string& tenant, const std::string& hash) {
  Lock lock(mutex);
  check_up();
  tokens.erase(hash);
  tokens_by_tenant[tenant].erase(hash);
}

std::int64_t MemoryApiStore::take_enroll_use(const std::string& hash) {
  Lock lock(mutex);
  check_up();
  if (tokens.count(hash) == 0) return -1;
  const std::int64_t uses = std::stoll(tokens[hash].field("uses").value_or("0"));
  if (uses <= 0) return -1;
  tokens[hash].fields["uses"] = std::to_string(uses - 1);
  return uses - 1;
}

void MemoryApiStore::refund_enroll_use(const std::string& hash) {
  Lock lock(mutex);
  check_up();
  if (tokens.count(hash) == 0) return;
  tokens[hash].fields["uses"] = std::to_string(std::stoll(tokens[hash].field("uses").value_or("0")) + 1);
}

void MemoryApiStore::append_audit(const std::string& tenant,
                                  const std::vector<std::pair<std::string, std::string>>& entry) {
  Lock lock(mutex);
  check_up();
  Record r;
  for (const auto& [k, v] : entry) r.fields[k] = v;
  audit[tenant].emplace_back(std::to_string(audit[tenant].size() + 1) + "-0", r);
}

IdRecords MemoryApiStore::recent_audit(const std::string& tenant, std::size_t limit) {
  Lock lock(mutex);
  check_up();
  IdRecords out(audit[tenant].rbegin(), audit[tenant].rend());
  if (out.size() > limit) out.resize(limit);
  return out;
}

bool MemoryApiStore::agent_id_used(const std::string& agent_id) {
  Lock lock(mutex);
  check_up();
  return agents.count(agent_id) != 0;
}

void MemoryApiStore::put_agent(const std::string& agent_id, const std::string&, const Record& record,
                               const proto::StringMap&) {
  Lock lock(mutex);
  check_up();
  agents[agent_id] = record;
}

bool MemoryApiStore::create_tenant(const std::string& name, const Record& record) {
  Lock lock(mutex);
  check_up();
  if (tenant_records.count(name) != 0) return false;
  tenant_records[name] = record;
  tenant_records[name].fields["name"] = name;
  return true;
}

Record MemoryApiStore::tenant(const std::string& name) {
  Lock lock(mutex);
  check_up();
  return tenant_records.count(name) != 0 ? tenant_records[name] : Record{};
}

IdRecords MemoryApiStore::tenants() {
  Lock lock(mutex);
  check_up();
  return IdRecords(tenant_records.begin(), tenant_records.end());
}

void MemoryApiStore::update_tenant(const std::string& name, const Record& changes) {
  Lock lock(mutex);
  check_up();
  for (const auto& [k, v] : changes.fields) tenant_records[name].fields[k] = v;
}

std::int64_t MemoryApiStore::count_tenant_job(const std::string& name, std::int64_t minute, std::int64_t limit) {
  Lock lock(mutex);
  check_up();
  std::int64_t& count = tenant_job_counts[name + ":" + std::to_string(minute)];
  if (count >= limit) return -1;
  return ++count;
}

std::size_t MemoryApiStore::tenant_agent_count(const std::string& tenant) {
  Lock lock(mutex);
  return tenant_agents(tenant).size();
}

void MemoryApiStore::refuse_tenant_agents(const std::string& tenant, bool refuse) {
  Lock lock(mutex);
  for (const auto& [id, unused] : tenant_agents(tenant)) {
    if (refuse) {
      refused.insert(id);
    } else {
      refused.erase(id);
    }
  }
}

Record MemoryApiStore::agent(const std::string& agent_id) {
  Lock lock(mutex);
  check_up();
  return agents.count(agent_id) != 0 ? agents[agent_id] : Record{};
}

IdRecords MemoryApiStore::tenant_agents(const std::string& tenant) {
  Lock lock(mutex);
  check_up();
  IdRecords out;
  for (const auto& [id, r] : agents) {
    if (r.field("tenant") == tenant && revoked.count(id) == 0) out.emplace_back(id, r);
  }
  return out;
}

ApiStore::AgentPage MemoryApiStore::tenant_agent_page(const std::string& tenant, const std::string& after,
                                                     std::size_t limit) {
  Lock lock(mutex);
  AgentPage page;
  for (const auto& [id, r] : tenant_agents(tenant)) {  // in id order: a std::map's
    ++page.total;
    if (id <= after) continue;
    if (page.agents.size() == limit) {
      page.more = true;
    } else {
      page.agents.emplace_back(id, r);
    }
  }
  return page;
}

IdRecords MemoryApiStore::tenant_agents_among(const std::string& tenant, const std::vector<std::string>& ids) {
  Lock lock(mutex);
  IdRecords out;
  for (const auto& [id, r] : tenant_agents(tenant)) {
    if (std::find(ids.begin(), ids.end(), id) != ids.end()) out.emplace_back(id, r);
  }
  return out;
}

std::vector<std::string> MemoryApiStore::agents_with_labels(const std::string& tenant,
                                                            const proto::StringMap& labels) {
  Lock lock(mutex);
  std::vector<std::string> out;
  for (const auto& [id, r] : tenant_agents(tenant)) {
    const auto have = labels_of(r);
    const bool all = std::all_of(labels.begin(), labels.end(), [&](const auto& kv) {
      const auto it = have.find(kv.first);
      return it != have.end() && it->second == kv.second;
    });
    if (all) out.push_back(id);
  }
  return out;
}

void MemoryApiStore::revoke_agent(const std::string& agent_id, const std::string&, const proto::StringMap&) {
  Lock lock(mutex);
  check_up();
  revoked.insert(agent_id);
  refused.insert(agent_id);
  agents[agent_id].fields["status"] = "revoked";
}

std::optional<std::string> MemoryApiStore::change_account(const std::string& shard, const std::string& op,
                                                          const std::string& jid, const std::string&, int) {
  Lock lock(mutex);
  check_up();
  account_requests.push_back(shard + " " + op + " " + jid);
  return account_answer;
}

void MemoryApiStore::write_job(const NewJob& job) {
  Lock lock(mutex);
  check_up();
  jobs[job.id] = job;
  for (const auto& t : job.tasks) {
    task_states[job.id][t.agent_id] = "pending";
    queues[t.shard].push_back(job.id + "|" + t.agent_id);
  }
}

Record MemoryApiStore::job(const std::string& job_id) {
  Lock lock(mutex);
  check_up();
  return jobs.count(job_id) != 0 ? jobs[job_id].record : Record{};
}

ApiStore::JobPage MemoryApiStore::tenant_jobs(const std::string& tenant, const std::optional<std::string>& before,
                                              std::size_t limit) {
  Lock lock(mutex);
  check_up();
  std::vector<const NewJob*> mine;
  for (const auto& [id, j] : jobs) {
    if (j.tenant == tenant && (!before || j.created_at < std::stod(*before))) mine.push_back(&j);
  }
  std::sort(mine.begin(), mine.end(), [](const NewJob* a, const NewJob* b) { return a->created_at > b->created_at; });
  JobPage page;
  for (const NewJob* j : mine) {
    if (page.jobs.size() == limit) break;
    page.jobs.emplace_back(j->id, j->record);
    page.last_created_at = std::to_string(j->created_at);
  }
  page.scanned = page.jobs.size();
  return page;
}

IdRecords MemoryApiStore::job_tasks(const std::string& job_id, std::size_t offset, std::size_t limit) {
  Lock lock(mutex);
  check_up();
  IdRecords out;
  const auto& tasks = jobs[job_id].tasks;
  for (std::size_t i = offset; i < tasks.size() && out.size() < limit; ++i) {
    const auto& t = tasks[i];
    out.emplace_back(t.agent_id, Record{{{"task_id", t.task_id},
                                         {"state", task_states[job_id][t.agent_id]},
                                         {"shard", t.shard},
                                         {"proof", t.proof}}});
  }
  return out;
}

void MemoryApiStore::cancel_job(const std::string& job_id) {
  Lock lock(mutex);
  check_up();
  jobs[job_id].record.fields["cancel_requested"] = "1";
  for (auto& [agent, state] : task_states[job_id]) {
    if (state == "pending") state = "cancelled";
  }
}

}  // namespace muster::hub::testing
