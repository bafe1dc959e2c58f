#include "store/redis_api_store.hpp"

#include <algorithm>
#include <set>

#include "core/auth.hpp"
#include "muster/proto/uuid.hpp"
#include "store/keys.hpp"
#include "store/lua_scripts.hpp"
#include "store/task_scripts.hpp"

namespace muster::hub {
namespace {

constexpr const char* kAuditLength = "100000";
constexpr const char* kControlQueueLength = "10000";

void throw_on_error(const std::vector<Reply>& replies, const std::string& what) {
  for (const auto& r : replies) {
    if (r.kind == Reply::Kind::error) throw StoreError(what + ": " + r.text);
    for (const auto& queued : r.elements) {  // EXEC: the replies of the transaction's commands
      if (queued.kind == Reply::Kind::error) throw StoreError(what + ": " + queued.text);
    }
  }
}

Command hset(const std::string& key, const Record& record) {
  Command c{"HSET", key};
  for (const auto& [name, value] : record.fields) {
    c.push_back(name);
    c.push_back(value);
  }
  return c;
}

// HGETALL of each id's key in one round trip; ids without a record are left out.
template <class KeyOf>
IdRecords read_records(Store& store, const std::vector<std::string>& ids, KeyOf key_of) {
  std::vector<Command> reads;
  for (const auto& id : ids) reads.push_back({"HGETALL", key_of(id)});
  const auto replies = store.pipeline(reads);
  IdRecords out;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].elements.empty()) out.emplace_back(ids[i], to_record(replies[i]));
  }
  return out;
}

// Removes from an index (`forget`: the removing command and its key) the ids
// whose records are gone; `found` is read_records() of `ids`, in their order.
void forget_missing(Store& store, Command forget, const std::vector<std::string>& ids, const IdRecords& found) {
  std::size_t next = 0;
  for (const auto& id : ids) {
    if (next < found.size() && found[next].first == id) {
      ++next;
    } else {
      forget.push_back(id);
    }
  }
  if (forget.size() > 2) store.run(forget);
}

std::vector<std::string> texts(const Reply& reply) {
  std::vector<std::string> out;
  for (const auto& e : reply.elements) out.push_back(e.text);
  return out;
}

}  // namespace

Record to_record(const Reply& hgetall) {
  Record r;
  for (std::size_t i = 0; i + 1 < hgetall.elements.size(); i += 2) {
    r.fields[hgetall.elements[i].text] = hgetall.elements[i + 1].text;
  }
  return r;
}

void RedisApiStore::ping() { store_.run({"PING"}); }

void RedisApiStore::put_token(const std::string& hash, const std::string& tenant, const Record& record,
                              std::int64_t ttl_s) {
  const std::string key = keys::token(hash);
  throw_on_error(
      store_.pipeline({hset(key, record), {"EXPIRE", key, std::to_string(ttl_s)}, {"SADD", keys::tenant_tokens(tenant), hash}}),
      "writing a token");
}

Record RedisApiStore::token(const std::string& hash) { return to_record(store_.run({"HGETALL", keys::token(hash)})); }

IdRecords RedisApiStore::tenant_tokens(const std::string& tenant) {
  const auto hashes = texts(store_.run({"SMEMBERS", keys::tenant_tokens(tenant)}));
  IdRecords live = read_records(store_, hashes, keys::token);
  // Tokens that expired are still in the tenant's set: forget them.
  forget_missing(store_, {"SREM", keys::tenant_tokens(tenant)}, hashes, live);
  return live;
}

void RedisApiStore::delete_token(const std::string& tenant, const std::string& hash) {
  store_.pipeline({{"DEL", keys::token(hash)}, {"SREM", keys::tenant_tokens(tenant), hash}});
}

std::int64_t RedisApiStore::take_enroll_use(const std::string& hash) {
  return store_.eval(lua::enroll_use_take, {keys::token(hash)}, {}).integer;
}

void RedisApiStore::refund_enroll_use(const std::string& hash) {
  store_.eval(lua::enroll_use_refund, {keys::token(hash)}, {});
}

bool RedisApiStore::create_tenant(const std::string& name, const Record& record) {
  // The name field is written first and only once: whoever sets it owns the name.
  const std::string key = keys::tenant(name);
  if (store_.run({"HSETNX", key, "name", name}).integer != 1) return false;
  throw_on_error(store_.pipeline({hset(key, record), {"SADD", keys::kTenants, name}}), "writing tenant " + name);
  return true;
}

Record RedisApiStore::tenant(const std::string& name) { return to_record(store_.run({"HGETALL", keys::tenant(name)})); }

IdRecords RedisApiStore::tenants() {
  auto names = texts(store_.run({"SMEMBERS", keys::kTenants}));
  std::sort(names.begin(), names.end());
  return read_records(store_, names, keys::tenant);
}

void RedisApiStore::update_tenant(const std::string& name, const Record& changes) {
  throw_on_error({store_.run(hset(keys::tenant(name), changes))}, "updating tenant " + name);
}

std::int64_t RedisApiStore::count_tenant_job(const std::string& name, std::int64_t minute, std::int64_t limit) {
  const std::string key = keys::tenant_job_count(name, minute);
  const auto replies = store_.pipeline({{"INCR", key}, {"EXPIRE", key, "120"}});
  throw_on_error(replies, "counting a job of tenant " + name);
  if (replies[0].integer <= limit) return replies[0].integer;
  store_.run({"DECR", key});
  return -1;
}

std::size_t RedisApiStore::tenant_agent_count(const std::string& tenant) {
  return static_cast<std::size_t>(store_.run({"SCARD", keys::tenant_agents(tenant)}).integer);
}

void RedisApiStore::refuse_tenant_agents(const std::string& tenant, bool refused) {
  // A revoked agent left the tenant's set, so it stays refused either way.
  const auto ids = texts(store_.run({"SMEMBERS", keys::tenant_agents(tenant)}));
  for (std::size_t start = 0; start < ids.size(); start += 1000) {
    Command change{refused ? "SADD" : "SREM", keys::kRefusedAgents};
    const std::size_t end = std::min(ids.size(), start + 1000);
    change.insert(change.end(), ids.begin() + static_cast<std::ptrdiff_t>(start), ids.begin() + static_cast<std::ptrdiff_t>(end));
    store_.run(change);
  }
}

void RedisApiStore::append_audit(const std::string& tenant,
                                 const std::vector<std::pair<std::string, std::string>>& entry) {
  Command add{"XADD", keys::audit(tenant), "MAXLEN", "~", kAuditLength, "*"};
  for (const auto& [name, value] : entry) add.insert(add.end(), {name, value});
  store_.run(add);
}

IdRecords RedisApiStore::recent_audit(const std::string& tenant, std::size_t limit) {
  const Reply entries = store_.run({"XREVRANGE", keys::audit(tenant), "+", "-", "COUNT", std::to_string(limit)});
  IdRecords out;
  for (const auto& entry : entries.elements) {
    if (entry.elements.size() == 2) out.emplace_back(entry.elements[0].text, to_record(entry.elements[1]));
  }
  return out;
}

bool RedisApiStore::agent_id_used(const std::string& agent_id) {
  return store_.run({"EXISTS", keys::agent(agent_id)}).integer != 0;
}

void RedisApiStore::put_agent(const std::string& agent_id, const std::string& tenant, const Record& record,
                              const proto::StringMap& labels) {
  std::vector<Command> writes{hset(keys::agent(agent_id), record),
                              {"SADD", keys::tenant_agents(tenant), agent_id},
                              {"ZADD", keys::agents_by_id(tenant), "0", agent_id}};
  for (const auto& [key, value] : labels) writes.push_back({"SADD", keys::label_agents(tenant, key, value), agent_id});
  throw_on_error(store_.pipeline(writes), "writing agent " + agent_id);
}

Record RedisApiStore::agent(const std::string& agent_id) {
  return to_record(store_.run({"HGETALL", keys::agent(agent_id)}));
}

IdRecords RedisApiStore::tenant_agents(const std::string& tenant) {
  return read_records(store_, texts(store_.run({"SMEMBERS", keys::tenant_agents(tenant)})), keys::agent);
}

ApiStore::AgentPage RedisApiStore::tenant_agent_page(const std::string& tenant, const std::string& after,
                                                    std::size_t limit) {
  // One more than the page: whether agents follow it.
  const auto replies = store_.pipeline(
      {{"ZCARD", keys::agents_by_id(tenant)},
       {"ZRANGEBYLEX", keys::agents_by_id(tenant), after.empty() ? "-" : "(" + after, "+", "LIMIT", "0",
        std::to_string(limit + 1)}});
  throw_on_error(replies, "listing the agents of " + tenant);
  AgentPage page;
  page.total = static_cast<std::size_t>(replies[0].integer);
  auto ids = texts(replies[1]);
  page.more = ids.size() > limit;
  if (page.more) ids.pop_back();
  page.agents = read_records(store_, ids, keys::agent);
  return page;
}

IdRecords RedisApiStore::tenant_agents_among(const std::string& tenant, const std::vector<std::string>& ids) {
  std::vector<Command> reads;
  for (const auto& id : ids) {
    reads.push_back({"SISMEMBER", keys::tenant_agents(tenant), id});
    reads.push_back({"HGETALL", keys::agent(id)});
  }
  const auto replies = store_.pipeline(reads);
  IdRecords out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Reply& fields = replies[2 * i + 1];
    if (replies[2 * i].integer == 1 && !fields.elements.empty()) out.emplace_back(ids[i], to_record(fields));
  }
  return out;
}

std::vector<std::string> RedisApiStore::agents_with_labels(const std::string& tenant,
                                                           const proto::StringMap& labels) {
  // The tenant's set is in the intersection: a revoked agent is in no result.
  Command inter{"SINTER", keys::tenant_agents(tenant)};
  for (const auto& [key, value] : labels) inter.push_back(keys::label_agents(tenant, key, value));
  return texts(store_.run(inter));
}

void RedisApiStore::ensure_agent_indexes() {
  if (store_.run({"GET", keys::kAgentIndexVersion}).text == "1") return;
  // Every agent record, by its key (the pattern matches only agent hashes),
  // into its tenant's label sets and id index; revoked agents stay out.
  const std::string prefix = keys::agent("");
  const std::string pattern = prefix.substr(0, prefix.size() - 1) + "*}";
  std::string cursor = "0";
  do {
    const Reply page = store_.run({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
    if (page.elements.size() != 2) break;
    cursor = page.elements[0].text;
    std::vector<std::string> ids;
    for (const auto& key : page.elements[1].elements) {
      const std::string id = key.text.substr(prefix.size() - 1, key.text.size() - prefix.size());
      if (proto::is_uuid(id) && key.text == keys::agent(id)) ids.push_back(id);
    }
    std::vector<Command> writes;
    for (const auto& [id, record] : read_records(store_, ids, keys::agent)) {
      const std::string tenant = record.field("tenant").value_or("");
      if (tenant.empty() || record.field("status") == "revoked") continue;
      for (const auto& [k, v] : labels_of(record)) writes.push_back({"SADD", keys::label_agents(tenant, k, v), id});
      writes.push_back({"ZADD", keys::agents_by_id(tenant), "0", id});
    }
    if (!writes.empty()) store_.pipeline(writes);
  } while (cursor != "0");
  store_.run({"SET", keys::kAgentIndexVersion, "1"});
}

void RedisApiStore::revoke_agent(const std::string& agent_id, const std::string& tenant,
                                 const proto::StringMap& labels) {
  std::vector<Command> writes{
      {"SADD", keys::kRefusedAgents, agent_id},
      {"HSET", keys::agent(agent_id), "status", "revoked", "revoked_at", std::to_string(unix_seconds())},
      {"SREM", keys::tenant_agents(tenant), agent_id},
      {"ZREM", keys::agents_by_id(tenant), agent_id}};
  for (const auto& [k, v] : labels) writes.push_back({"SREM", keys::label_agents(tenant, k, v), agent_id});
  throw_on_error(store_.pipeline(writes), "revoking agent " + agent_id);
}

std::optional<std::string> RedisApiStore::change_account(const std::string& shard, const std::string& op,
                                                         const std::string& jid, const std::string& password,
                                                         int timeout_s) {
  // The master answers on a reply list that expires on its own.
  const std::string request_id = proto::new_uuid();
  store_.run({"XADD", keys::control_queue(shard), "MAXLEN", "~", kControlQueueLength, "*", "op", op, "request",
              request_id, "jid", jid, "password", password});
  const Reply answer = store_.run({"BLPOP", keys::reply(request_id), std::to_string(timeout_s)});
  if (answer.is_nil() || answer.elements.size() != 2) return std::nullopt;
  return answer.elements[1].text;
}

void RedisApiStore::write_job(const NewJob& job) {
  // The job watch knows the job before its records exist (it finds none and
  // forgets it); the records are written all or nothing, so neither the
  // watch nor a store that keeps only part of the last second's writes ever
  // sees a job without its tasks.
  std::vector<Command> writes;
  writes.push_back({"ZADD", keys::kRunningJobs, format_time(job.watch_at), job.id});
  writes.push_back({"MULTI"});
  writes.push_back(hset(keys::job(job.id), job.record));
  Command task_list{"RPUSH", keys::job_tasks(job.id)};
  for (const auto& t : job.tasks) {
    task_list.push_back(t.agent_id);
    writes.push_back({"HSET", keys::task(job.id, t.agent_id), "task_id", t.task_id, "agent_id", t.agent_id, "state",
                      "pending", "shard", t.shard, "proof", t.proof});
  }
  writes.push_back(std::move(task_list));
  writes.push_back({"EXEC"});
  writes.push_back({"ZADD", keys::tenant_jobs(job.tenant), format_time(job.created_at), job.id});
  // Enqueue last: a master never sees a task whose records are not written.
  for (const auto& t : job.tasks) {
    writes.push_back({"XADD", keys::dispatch_queue(t.shard), "*", "job", job.id, "agent", t.agent_id});
  }
  throw_on_error(store_.pipeline(writes), "writing job " + job.id);
}

Record RedisApiStore::job(const std::string& job_id) { return to_record(store_.run({"HGETALL", keys::job(job_id)})); }

ApiStore::JobPage RedisApiStore::tenant_jobs(const std::string& tenant, const std::optional<std::string>& before,
                                             std::size_t limit) {
  const std::string max = before ? "(" + *before : "+inf";
  const Reply ids = store_.run({"ZREVRANGEBYSCORE", keys::tenant_jobs(tenant), max, "-inf", "WITHSCORES", "LIMIT",
                                "0", std::to_string(limit)});
  JobPage page;
  std::vector<std::string> job_ids;
  for (std::size_t i = 0; i + 1 < ids.elements.size(); i += 2) {
    job_ids.push_back(ids.elements[i].text);
    page.last_created_at = ids.elements[i + 1].text;
  }
  page.scanned = job_ids.size();
  page.jobs = read_records(store_, job_ids, keys::job);
  // Jobs past their retention expired; their index entries go too.
  forget_missing(store_, {"ZREM", keys::tenant_jobs(tenant)}, job_ids, page.jobs);
  return page;
}

IdRecords RedisApiStore::job_tasks(const std::string& job_id, std::size_t offset, std::size_t limit) {
  const auto agents = texts(store_.run(
      {"LRANGE", keys::job_tasks(job_id), std::to_string(offset), std::to_string(offset + limit - 1)}));
  std::vector<Command> reads;
  for (const auto& id : agents) reads.push_back({"HGETALL", keys::task(job_id, id)});
  const auto replies = store_.pipeline(reads);
  IdRecords out;
  for (std::size_t i = 0; i < replies.size(); ++i) out.emplace_back(agents[i], to_record(replies[i]));
  return out;
}

void RedisApiStore::cancel_job(const std::string& job_id) {
  store_.run({"HSET", keys::job(job_id), "cancel_requested", "1"});
  std::set<std::string> shards;
  for (const auto& agent_id : texts(store_.run({"LRANGE", keys::job_tasks(job_id), "0", "-1"}))) {
    const auto outcome = transition_task(store_, job_id, agent_id, "cancelled", {"pending"},
                                         {"error", "cancelled before dispatch", "finished_at", format_time(unix_time())});
    follow_up(store_, job_id, outcome);
    if (!outcome.moved) shards.insert(store_.run({"HGET", keys::task(job_id, agent_id), "shard"}).text);
  }
  // Tasks already sent: each shard's master tells its agents to kill them.
  for (const auto& shard : shards) {
    store_.run({"XADD", keys::control_queue(shard), "MAXLEN", "~", kControlQueueLength, "*", "op", "cancel", "job",
                job_id});
  }
  store_.run({"DEL", keys::job_slot_queue(job_id)});
}

}  // namespace muster::hub
