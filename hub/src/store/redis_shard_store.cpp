#include "store/redis_shard_store.hpp"

#include "core/auth.hpp"
#include "store/keys.hpp"
#include "store/task_scripts.hpp"

namespace muster::hub {
namespace {

// Live output kept per job, in entries (Redis trims in whole nodes: "~").
constexpr const char* kOutputStreamLength = "10000";
constexpr const char* kReplyTtlSeconds = "60";

// A task in the shard's sorted sets (in flight, parked deadlines).
std::string member(const TaskKey& t) { return t.job_id + "|" + t.agent_id; }

std::vector<TaskKey> tasks_of_members(const Reply& members) {
  std::vector<TaskKey> tasks;
  for (const auto& m : members.elements) {
    const auto bar = m.text.find('|');
    if (bar != std::string::npos) tasks.push_back({m.text.substr(0, bar), m.text.substr(bar + 1)});
  }
  return tasks;
}

void throw_on_error(const std::vector<Reply>& replies) {
  for (const auto& r : replies) {
    if (r.kind == Reply::Kind::error) throw StoreError(r.text);
  }
}

// The shard's two queues as Redis streams read by the consumer group of the
// masters; a new holder of the shard first adopts what its predecessor read
// and never acknowledged, then reads its own pending entries, then new ones.
class RedisDispatchFeed final : public DispatchFeed {
 public:
  RedisDispatchFeed(Store& store, const std::string& shard, std::string consumer)
      : store_(store),
        shard_(shard),
        consumer_(std::move(consumer)),
        queue_(keys::dispatch_queue(shard)),
        control_(keys::control_queue(shard)),
        client_(store.connect_dedicated(5000)) {
    for (const auto& stream : {queue_, control_}) {
      try {
        run_on(*client_, {"XGROUP", "CREATE", stream, keys::kMasterGroup, "0", "MKSTREAM"});
      } catch (const StoreError& e) {
        if (std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
      }
      adopt_pending(stream);
    }
  }

  bool holds_lease(const std::string& lease_token) override {
    return run_on(*client_, {"GET", keys::shard_lease(shard_)}).text == lease_token;
  }

  std::vector<QueueDelivery> read(long room) override {
    Command read{"XREADGROUP", "GROUP", keys::kMasterGroup, consumer_, "COUNT", std::to_string(std::max(room, 1L))};
    // With no room, control requests are only polled: the caller paces the loop.
    if (room > 0) read.insert(read.end(), {"BLOCK", "1000"});
    read.push_back("STREAMS");
    if (room > 0) read.push_back(queue_);
    read.push_back(control_);
    if (room > 0) read.push_back(queue_from_);
    read.push_back(control_from_);
    std::vector<QueueDelivery> deliveries;
    std::size_t delivered = 0;
    for (const auto& stream : run_on(*client_, read).elements) {
      if (stream.elements.size() != 2) continue;
      QueueDelivery d;
      d.queue = stream.elements[0].text;
      for (const auto& entry : stream.elements[1].elements) {
        if (entry.elements.size() != 2) continue;
        const Reply& f = entry.elements[1];
        if (d.queue == queue_) {
          d.tasks.push_back({f.field("job").value_or(""), f.field("agent").value_or("")});
        } else {
          d.controls.push_back({f.field("op").value_or(""), f.field("job").value_or(""),
                                f.field("request").value_or(""), f.field("jid").value_or(""),
                                f.field("password").value_or("")});
        }
        d.entry_ids.push_back(entry.elements[0].text);
      }
      delivered += d.entry_ids.size();
      deliveries.push_back(std::move(d));
    }
    // Our own pending entries are read until none is left; then new ones.
    if (delivered == 0) {
      if (room > 0) queue_from_ = ">";
      control_from_ = ">";
    }
    return deliveries;
  }

  void acknowledge(const QueueDelivery& d) override {
    if (d.entry_ids.empty()) return;
    Command ack{"XACK", d.queue, keys::kMasterGroup};
    ack.insert(ack.end(), d.entry_ids.begin(), d.entry_ids.end());
    Command del{"XDEL", d.queue};
    del.insert(del.end(), d.entry_ids.begin(), d.entry_ids.end());
    throw_on_error(store_.pipeline({ack, del}));
  }

 private:
  // Entries a previous holder of this shard read but never acknowledged (it
  // died mid-batch) become ours, so they are handled rather than stuck.
  void adopt_pending(const std::string& stream) {
    std::string cursor = "0-0";
    do {
      const Reply r = run_on(*client_, {"XAUTOCLAIM", stream, keys::kMasterGroup, consumer_, "0", cursor, "COUNT",
                                        "500", "JUSTID"});
      if (r.elements.empty()) break;
      cursor = r.elements[0].text;
    } while (cursor != "0-0");
  }

  Store& store_;
  const std::string shard_;
  const std::string consumer_;
  const std::string queue_, control_;
  std::string queue_from_ = "0", control_from_ = "0";
  Poco::Redis::Client::Ptr client_;
};

const char* in_flight_flag(InFlightWrite how) {
  switch (how) {
    case InFlightWrite::keep_if_present:
      return "NX";
    case InFlightWrite::move_if_present:
      return "XX";
    case InFlightWrite::set:
      break;
  }
  return nullptr;
}

}  // namespace

std::unique_ptr<DispatchFeed> RedisShardStore::open_dispatch_feed(const std::string& consumer) {
  return std::make_unique<RedisDispatchFeed>(store_, shard_, consumer);
}

std::vector<bool> RedisShardStore::agents_online(const std::vector<std::string>& agent_ids) {
  std::vector<Command> reads;
  for (const auto& id : agent_ids) reads.push_back({"HGET", keys::agent(id), "status"});
  std::vector<bool> online;
  for (const auto& r : store_.pipeline(reads)) online.push_back(r.text == "online");
  return online;
}

bool RedisShardStore::is_revoked(const std::string& agent_id) {
  return store_.run({"SISMEMBER", keys::kRefusedAgents, agent_id}).integer == 1;
}

std::string RedisShardStore::agent_shard(const std::string& agent_id) {
  return store_.run({"HGET", keys::agent(agent_id), "shard"}).text;
}

void RedisShardStore::record_presence(const std::string& agent_id, bool online, const proto::Facts* facts) {
  Command update{"HSET", keys::agent(agent_id), "status", online ? "online" : "offline", "last_seen",
                 std::to_string(unix_seconds())};
  if (facts) {
    update.insert(update.end(), {"hostname", facts->hostname, "os", facts->os, "arch", facts->arch, "kernel",
                                 facts->kernel, "agent_version", facts->agent_version});
  }
  store_.run(update);
}

void RedisShardStore::record_undeliverable(const TaskKey& task) {
  store_.pipeline({{"HSET", keys::agent(task.agent_id), "status", "offline"},
                   {"ZREM", keys::inflight(shard_), member(task)}});
}

std::string RedisShardStore::task_state(const TaskKey& task) {
  return store_.run({"HGET", keys::task(task.job_id, task.agent_id), "state"}).text;
}

std::vector<ClaimDecision> RedisShardStore::claim_for_dispatch(const std::vector<TaskKey>& tasks) {
  return hub::claim_for_dispatch(store_, tasks);
}

std::vector<TransitionOutcome> RedisShardStore::transition(const std::vector<TransitionRequest>& requests,
                                                           const std::vector<TaskKey>& settled) {
  std::vector<Command> then;
  for (const auto& t : settled) then.push_back({"ZREM", keys::inflight(shard_), member(t)});
  return transition_tasks(store_, requests, then);
}

void RedisShardStore::follow_up(const std::string& job_id, const TransitionOutcome& outcome) {
  hub::follow_up(store_, job_id, outcome);
}

std::vector<ActiveTask> RedisShardStore::tasks_of_job(const std::string& job_id) {
  const Reply agents = store_.run({"LRANGE", keys::job_tasks(job_id), "0", "-1"});
  std::vector<Command> reads;
  for (const auto& agent : agents.elements) {
    reads.push_back({"HMGET", keys::task(job_id, agent.text), "state", "shard", "task_id"});
  }
  const auto replies = store_.pipeline(reads);
  std::vector<ActiveTask> tasks;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    const Reply& t = replies[i];
    if (t.elements.size() != 3) continue;
    tasks.push_back({agents.elements[i].text, t.elements[0].text, t.elements[1].text, t.elements[2].text});
  }
  return tasks;
}

std::vector<SentTask> RedisShardStore::sent_tasks(const std::vector<TaskKey>& tasks) {
  std::vector<Command> reads;
  for (const auto& t : tasks) {
    reads.push_back({"HMGET", keys::task(t.job_id, t.agent_id), "state", "task_id", "proof"});
    reads.push_back({"HGET", keys::agent(t.agent_id), "status"});
  }
  const auto replies = store_.pipeline(reads);
  throw_on_error(replies);
  std::vector<SentTask> out(tasks.size());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const Reply& task = replies[2 * i];
    if (task.elements.size() != 3) continue;
    out[i] = {task.elements[0].text, task.elements[1].text, task.elements[2].text, replies[2 * i + 1].text == "online"};
  }
  return out;
}

std::map<std::string, SignedJob> RedisShardStore::signed_jobs(const std::vector<std::string>& job_ids,
                                                              const std::vector<InFlight>& watch) {
  std::vector<Command> commands;
  for (const auto& w : watch) commands.push_back({"ZADD", keys::inflight(shard_), format_time(w.due), member(w.task)});
  for (const auto& id : job_ids) commands.push_back({"HMGET", keys::job(id), "statement", "signature", "key_id"});
  // Error replies stay in place: a job that cannot be read is left out, and
  // its tasks are left to the sweep (their in-flight records are what it finds).
  const auto replies = store_.pipeline(commands);
  std::map<std::string, SignedJob> jobs;
  for (std::size_t i = 0; i < job_ids.size(); ++i) {
    const Reply& r = replies[watch.size() + i];
    if (r.elements.size() != 3 || r.elements[0].is_nil()) continue;
    jobs[job_ids[i]] = {r.elements[0].text, r.elements[1].text, r.elements[2].text};
  }
  return jobs;
}

std::map<std::string, double> RedisShardStore::job_timeouts(const std::set<std::string>& job_ids) {
  std::vector<Command> reads;
  for (const auto& id : job_ids) reads.push_back({"HGET", keys::job(id), "timeout_s"});
  const auto replies = store_.pipeline(reads);
  throw_on_error(replies);
  std::map<std::string, double> timeouts;
  std::size_t k = 0;
  for (const auto& id : job_ids) {
    const std::string& text = replies[k++].text;
    timeouts[id] = text.empty() ? 300 : std::stod(text);
  }
  return timeouts;
}

ReportChecks RedisShardStore::check_reports(const std::vector<std::string>& agent_ids,
                                            const std::vector<TaskKey>& results) {
  std::vector<Command> checks;
  for (const auto& a : agent_ids) checks.push_back({"SISMEMBER", keys::kRefusedAgents, a});
  for (const auto& t : results) checks.push_back({"HGET", keys::task(t.job_id, t.agent_id), "task_id"});
  const auto replies = store_.pipeline(checks);
  throw_on_error(replies);
  ReportChecks out;
  for (std::size_t i = 0; i < agent_ids.size(); ++i) {
    if (replies[i].integer == 1) out.revoked_agents.insert(agent_ids[i]);
  }
  for (std::size_t i = agent_ids.size(); i < replies.size(); ++i) out.sent_task_ids.push_back(replies[i].text);
  return out;
}

bool RedisShardStore::append_output(const std::string& agent_id, const proto::OutputChunk& chunk) {
  if (store_.run({"HGET", keys::task(chunk.job_id, agent_id), "task_id"}).text != chunk.task_id) return false;
  store_.run({"XADD", keys::job_events(chunk.job_id), "MAXLEN", "~", kOutputStreamLength, "*", "type", "output",
              "agent", agent_id, "stream", chunk.stream == proto::Stream::stdout_stream ? "stdout" : "stderr", "seq",
              std::to_string(chunk.seq), "data", chunk.data});
  return true;
}

void RedisShardStore::watch_in_flight(const std::vector<InFlight>& tasks, InFlightWrite how) {
  if (tasks.empty()) return;
  std::vector<Command> writes;
  for (const auto& t : tasks) {
    Command add{"ZADD", keys::inflight(shard_)};
    if (const char* flag = in_flight_flag(how)) add.push_back(flag);
    add.insert(add.end(), {format_time(t.due), member(t.task)});
    writes.push_back(std::move(add));
  }
  throw_on_error(store_.pipeline(writes));
}

std::vector<TaskKey> RedisShardStore::in_flight_due(double now, long limit) {
  return tasks_of_members(store_.run(
      {"ZRANGEBYSCORE", keys::inflight(shard_), "-inf", format_time(now), "LIMIT", "0", std::to_string(limit)}));
}

std::vector<TaskKey> RedisShardStore::in_flight_all() {
  return tasks_of_members(store_.run({"ZRANGE", keys::inflight(shard_), "0", "-1"}));
}

void RedisShardStore::drop_in_flight(const TaskKey& task) { store_.run({"ZREM", keys::inflight(shard_), member(task)}); }

bool RedisShardStore::park(const TaskKey& task) {
  const Reply deadline = store_.run({"HGET", keys::job(task.job_id), "deadline"});
  const auto replies = store_.pipeline({{"SADD", keys::parked(shard_, task.agent_id), task.job_id},
                                        {"ZADD", keys::parked_deadlines(shard_),
                                         deadline.text.empty() ? "+inf" : deadline.text, member(task)},
                                        {"HGET", keys::agent(task.agent_id), "status"}});
  throw_on_error(replies);
  return replies[2].text == "online";
}

void RedisShardStore::release_parked(const std::string& agent_id) {
  const std::string parked = keys::parked(shard_, agent_id);
  const auto replies = store_.pipeline({{"SMEMBERS", parked}, {"DEL", parked}});
  throw_on_error(replies);
  std::vector<Command> requeue;
  for (const auto& job : replies[0].elements) {
    requeue.push_back({"ZREM", keys::parked_deadlines(shard_), member({job.text, agent_id})});
    requeue.push_back({"XADD", keys::dispatch_queue(shard_), "*", "job", job.text, "agent", agent_id});
  }
  store_.pipeline(requeue);
}

std::vector<TaskKey> RedisShardStore::parked_overdue(double now, long limit) {
  return tasks_of_members(store_.run({"ZRANGEBYSCORE", keys::parked_deadlines(shard_), "-inf", format_time(now),
                                      "LIMIT", "0", std::to_string(limit)}));
}

void RedisShardStore::unpark(const TaskKey& task) {
  store_.pipeline({{"ZREM", keys::parked_deadlines(shard_), member(task)},
                   {"SREM", keys::parked(shard_, task.agent_id), task.job_id}});
}

std::vector<std::string> RedisShardStore::running_jobs(bool all, double now, long limit) {
  const Reply due = all ? store_.run({"ZRANGE", keys::kRunningJobs, "0", "-1"})
                        : store_.run({"ZRANGEBYSCORE", keys::kRunningJobs, "-inf", format_time(now), "LIMIT", "0",
                                      std::to_string(limit)});
  std::vector<std::string> jobs;
  for (const auto& m : due.elements) jobs.push_back(m.text);
  return jobs;
}

JobWatchOutcome RedisShardStore::watch_job(const std::string& job_id, bool force) {
  return hub::watch_job(store_, job_id, force, kJobWatchStallSeconds, kJobWatchLongestIntervalSeconds);
}

void RedisShardStore::apply_job_watch(const JobWatchWrites& w) {
  std::vector<Command> writes;
  for (const auto& job_id : w.forget) writes.push_back({"ZREM", keys::kRunningJobs, job_id});
  for (const auto& [shard, t] : w.enqueue) {
    writes.push_back({"XADD", keys::dispatch_queue(shard), "*", "job", t.job_id, "agent", t.agent_id});
  }
  for (const auto& [shard, f] : w.watch_if_untracked) {
    writes.push_back({"ZADD", keys::inflight(shard), "NX", format_time(f.due), member(f.task)});
  }
  for (const auto& [job_id, when] : w.next_look) {
    writes.push_back({"ZADD", keys::kRunningJobs, "XX", format_time(when), job_id});
  }
  throw_on_error(store_.pipeline(writes));
}

void RedisShardStore::post_admin_reply(const std::string& request_id, const std::string& text) {
  store_.pipeline({{"LPUSH", keys::reply(request_id), text}, {"EXPIRE", keys::reply(request_id), kReplyTtlSeconds}});
}

}  // namespace muster::hub
