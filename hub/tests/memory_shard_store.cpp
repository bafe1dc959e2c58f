#include "memory_shard_store.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/auth.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub::testing {

using Lock = std::lock_guard<std::recursive_mutex>;

// Reads tasks off the store's queue and control requests; reading removes
// them, so acknowledge() has nothing left to do.
class MemoryDispatchFeed final : public DispatchFeed {
 public:
  explicit MemoryDispatchFeed(MemoryShardStore& store) : store_(store) {}
  bool holds_lease(const std::string& token) override {
    Lock lock(store_.mutex);
    store_.check_up();
    return token == store_.lease_token;
  }
  std::vector<QueueDelivery> read(long room) override {
    QueueDelivery tasks, controls;
    {
      Lock lock(store_.mutex);
      store_.check_up();
      auto& queue = store_.queues[store_.shard()];
      while (room-- > 0 && !queue.empty()) {
        tasks.tasks.push_back(queue.front());
        queue.pop_front();
      }
      controls.controls.assign(store_.controls.begin(), store_.controls.end());
      store_.controls.clear();
    }
    // What Redis's blocking read does, briefly: a test's dispatcher loop does not spin.
    if (tasks.tasks.empty() && controls.controls.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    return {tasks, controls};
  }
  void acknowledge(const QueueDelivery&) override {}

 private:
  MemoryShardStore& store_;
};

void MemoryShardStore::check_up() const {
  if (down) throw StoreError("connection refused (store down)");
}

std::string MemoryShardStore::add_job(const std::vector<std::string>& agent_ids) { return add_job(agent_ids, Job()); }

std::string MemoryShardStore::add_job(const std::vector<std::string>& agent_ids, Job job) {
  Lock lock(mutex);
  const std::string job_id = proto::new_uuid();
  job.agents = agent_ids;
  jobs[job_id] = job;
  running[job_id] = 0;
  for (const auto& agent : agent_ids) {
    tasks[{job_id, agent}] = Task{"pending", proto::new_uuid(), "proof-" + agent, shard_, {}};
    queues[shard_].push_back({job_id, agent});
  }
  return job_id;
}

void MemoryShardStore::add_agent(const std::string& agent_id, bool online) {
  Lock lock(mutex);
  agents[agent_id] = Agent{online ? "online" : "offline", shard_, "host-" + agent_id.substr(0, 4), false};
}

void MemoryShardStore::queue_control(ControlRequest request) {
  Lock lock(mutex);
  controls.push_back(std::move(request));
}

std::unique_ptr<DispatchFeed> MemoryShardStore::open_dispatch_feed(const std::string&) {
  Lock lock(mutex);
  check_up();
  return std::make_unique<MemoryDispatchFeed>(*this);
}

std::vector<bool> MemoryShardStore::agents_online(const std::vector<std::string>& agent_ids) {
  Lock lock(mutex);
  check_up();
  std::vector<bool> online;
  for (const auto& id : agent_ids) online.push_back(agents.count(id) != 0 && agents[id].status == "online");
  return online;
}

bool MemoryShardStore::is_revoked(const std::string& agent_id) {
  Lock lock(mutex);
  check_up();
  return agents.count(agent_id) != 0 && agents[agent_id].revoked;
}

std::string MemoryShardStore::agent_shard(const std::string& agent_id) {
  Lock lock(mutex);
  check_up();
  return agents.count(agent_id) != 0 ? agents[agent_id].shard : "";
}

void MemoryShardStore::record_presence(const std::string& agent_id, bool online, const proto::Facts* facts) {
  Lock lock(mutex);
  check_up();
  agents[agent_id].status = online ? "online" : "offline";
  if (facts) agents[agent_id].hostname = facts->hostname;
}

void MemoryShardStore::record_undeliverable(const TaskKey& task) {
  Lock lock(mutex);
  check_up();
  agents[task.agent_id].status = "offline";
  in_flight.erase(task);
}

std::string MemoryShardStore::task_state(const TaskKey& task) {
  Lock lock(mutex);
  check_up();
  return tasks.count(task) != 0 ? tasks[task].state : "";
}

void MemoryShardStore::finish_job(const std::string& job_id) {
  Job& job = jobs[job_id];
  bool all_succeeded = true;
  for (const auto& agent : job.agents) all_succeeded = all_succeeded && tasks[{job_id, agent}].state == "succeeded";
  job.state = all_succeeded ? "succeeded" : job.cancel_requested ? "cancelled" : "failed";
}

TransitionOutcome MemoryShardStore::move(const TaskKey& key, const std::string& new_state,
                                         const std::vector<std::string>& fields) {
  Task& task = tasks[key];
  Job& job = jobs[key.job_id];
  const std::string current = task.state;
  task.state = new_state;
  for (std::size_t i = 0; i + 1 < fields.size(); i += 2) task.fields[fields[i]] = fields[i + 1];
  TransitionOutcome out;
  out.moved = true;
  if (current == new_state) return out;
  if (job.concurrency > 0 && (current == "dispatched" || current == "running") && new_state != "running" &&
      !job.waiting.empty()) {
    out.release_agent = job.waiting.front();
    job.waiting.pop_front();
  }
  if (is_final_state(new_state) && !is_final_state(current)) {
    long failures = 0, remaining = 0;
    for (const auto& agent : job.agents) {
      const std::string& s = tasks[{key.job_id, agent}].state;
      if (s == "failed" || s == "timed_out") ++failures;
      if (!is_final_state(s)) ++remaining;
    }
    if ((new_state == "failed" || new_state == "timed_out") && job.max_failures > 0 && !job.halted &&
        failures >= job.max_failures) {
      job.halted = out.job_halted = true;
    }
    if (remaining == 0) {
      finish_job(key.job_id);
      out.job_finished = true;
    }
  }
  return out;
}

std::vector<ClaimDecision> MemoryShardStore::claim_for_dispatch(const std::vector<TaskKey>& keys) {
  Lock lock(mutex);
  check_up();
  std::vector<ClaimDecision> decisions;
  for (const auto& key : keys) {
    ClaimDecision d;
    if (tasks.count(key) == 0 || tasks[key].state != "pending") {
      decisions.push_back(d);
      continue;
    }
    Job& job = jobs[key.job_id];
    auto end = [&](const char* state, const char* why) {
      d.claim = Claim::ended;
      d.outcome = move(key, state, {"error", why});
    };
    long busy = 0;
    for (const auto& agent : job.agents) {
      const std::string& s = tasks[{key.job_id, agent}].state;
      if (s == "dispatched" || s == "running") ++busy;
    }
    if (job.cancel_requested) {
      end("cancelled", "cancelled before dispatch");
    } else if (job.halted) {
      end("skipped", "skipped: the job reached its max_failures");
    } else if (job.deadline > 0 && unix_time() > job.deadline) {
      end("expired", "not delivered before the job deadline");
    } else if (job.concurrency > 0 && busy >= job.concurrency) {
      job.waiting.push_back(key.agent_id);
      d.claim = Claim::wait_for_slot;
    } else {
      move(key, "dispatched", {});
      d.claim = Claim::send;
      d.task_id = tasks[key].task_id;
      d.proof = tasks[key].proof;
    }
    decisions.push_back(d);
  }
  return decisions;
}

std::vector<TransitionOutcome> MemoryShardStore::transition(const std::vector<TransitionRequest>& requests,
                                                            const std::vector<TaskKey>& settled) {
  Lock lock(mutex);
  check_up();
  std::vector<TransitionOutcome> outcomes;
  for (const auto& r : requests) {
    const TaskKey key{r.job_id, r.agent_id};
    const bool allowed = tasks.count(key) != 0 && std::find(r.allowed_from.begin(), r.allowed_from.end(),
                                                            tasks[key].state) != r.allowed_from.end();
    outcomes.push_back(allowed ? move(key, r.new_state, r.fields) : TransitionOutcome{});
  }
  for (const auto& t : settled) in_flight.erase(t);
  return outcomes;
}

void MemoryShardStore::follow_up(const std::string& job_id, const TransitionOutcome& outcome) {
  Lock lock(mutex);
  check_up();
  if (outcome.release_agent) queues[tasks[{job_id, *outcome.release_agent}].shard].push_back({job_id, *outcome.release_agent});
  bool finished = outcome.job_finished;
  if (outcome.job_halted) {
    for (const auto& agent : jobs[job_id].agents) {
      if (tasks[{job_id, agent}].state == "pending") {
        finished = move({job_id, agent}, "skipped", {"error", "skipped"}).job_finished || finished;
      }
    }
    jobs[job_id].waiting.clear();
  }
  if (finished) running.erase(job_id);
}

std::vector<ActiveTask> MemoryShardStore::tasks_of_job(const std::string& job_id) {
  Lock lock(mutex);
  check_up();
  std::vector<ActiveTask> out;
  for (const auto& agent : jobs[job_id].agents) {
    const Task& t = tasks[{job_id, agent}];
    out.push_back({agent, t.state, t.shard, t.task_id});
  }
  return out;
}

std::vector<SentTask> MemoryShardStore::sent_tasks(const std::vector<TaskKey>& keys) {
  Lock lock(mutex);
  check_up();
  std::vector<SentTask> out;
  for (const auto& key : keys) {
    if (tasks.count(key) == 0) {
      out.emplace_back();
      continue;
    }
    const Task& t = tasks[key];
    out.push_back({t.state, t.task_id, t.proof, agents.count(key.agent_id) != 0 && agents[key.agent_id].status == "online"});
  }
  return out;
}

std::map<std::string, SignedJob> MemoryShardStore::signed_jobs(const std::vector<std::string>& job_ids,
                                                               const std::vector<InFlight>& watch) {
  Lock lock(mutex);
  check_up();
  for (const auto& w : watch) in_flight[w.task] = w.due;
  std::map<std::string, SignedJob> out;
  for (const auto& id : job_ids) {
    if (jobs.count(id) != 0) out[id] = jobs[id].signed_record;
  }
  return out;
}

std::map<std::string, double> MemoryShardStore::job_timeouts(const std::set<std::string>& job_ids) {
  Lock lock(mutex);
  check_up();
  std::map<std::string, double> out;
  for (const auto& id : job_ids) out[id] = jobs[id].timeout_s;
  return out;
}

ReportChecks MemoryShardStore::check_reports(const std::vector<std::string>& agent_ids,
                                             const std::vector<TaskKey>& results) {
  Lock lock(mutex);
  check_up();
  ReportChecks out;
  for (const auto& a : agent_ids) {
    if (agents.count(a) != 0 && agents[a].revoked) out.revoked_agents.insert(a);
  }
  for (const auto& t : results) out.sent_task_ids.push_back(tasks.count(t) != 0 ? tasks[t].task_id : "");
  return out;
}

bool MemoryShardStore::append_output(const std::string& agent_id, const proto::OutputChunk& chunk) {
  Lock lock(mutex);
  check_up();
  const TaskKey key{chunk.job_id, agent_id};
  if (tasks.count(key) == 0 || tasks[key].task_id != chunk.task_id) return false;
  output[chunk.job_id].push_back(chunk);
  return true;
}

void MemoryShardStore::watch_in_flight(const std::vector<InFlight>& entries, InFlightWrite how) {
  Lock lock(mutex);
  check_up();
  for (const auto& e : entries) {
    const bool present = in_flight.count(e.task) != 0;
    if ((how == InFlightWrite::keep_if_present && present) || (how == InFlightWrite::move_if_present && !present)) {
      continue;
    }
    in_flight[e.task] = e.due;
  }
}

std::vector<TaskKey> MemoryShardStore::in_flight_due(double now, long limit) {
  Lock lock(mutex);
  check_up();
  std::vector<TaskKey> out;
  for (const auto& [key, due] : in_flight) {
    if (due <= now && static_cast<long>(out.size()) < limit) out.push_back(key);
  }
  return out;
}

std::vector<TaskKey> MemoryShardStore::in_flight_all() {
  Lock lock(mutex);
  check_up();
  std::vector<TaskKey> out;
  for (const auto& entry : in_flight) out.push_back(entry.first);
  return out;
}

void MemoryShardStore::drop_in_flight(const TaskKey& task) {
  Lock lock(mutex);
  check_up();
  in_flight.erase(task);
}

bool MemoryShardStore::park(const TaskKey& task) {
  Lock lock(mutex);
  check_up();
  const double deadline = jobs[task.job_id].deadline;
  parked[task] = deadline > 0 ? deadline : 1e18;
  return agents.count(task.agent_id) != 0 && agents[task.agent_id].status == "online";
}

void MemoryShardStore::release_parked(const std::string& agent_id) {
  Lock lock(mutex);
  check_up();
  for (auto it = parked.begin(); it != parked.end();) {
    if (it->first.agent_id == agent_id) {
      queues[shard_].push_back(it->first);
      it = parked.erase(it);
    } else {
      ++it;
    }
  }
}

std::vector<TaskKey> MemoryShardStore::parked_overdue(double now, long limit) {
  Lock lock(mutex);
  check_up();
  std::vector<TaskKey> out;
  for (const auto& [key, deadline] : parked) {
    if (deadline <= now && static_cast<long>(out.size()) < limit) out.push_back(key);
  }
  return out;
}

void MemoryShardStore::unpark(const TaskKey& task) {
  Lock lock(mutex);
  check_up();
  parked.erase(task);
}

std::vector<std::string> MemoryShardStore::running_jobs(bool all, double now, long limit) {
  Lock lock(mutex);
  check_up();
  std::vector<std::string> out;
  for (const auto& [job, next] : running) {
    if ((all || next <= now) && static_cast<long>(out.size()) < limit) out.push_back(job);
  }
  return out;
}

JobWatchOutcome MemoryShardStore::watch_job(const std::string& job_id, bool) {
  Lock lock(mutex);
  check_up();
  JobWatchOutcome out;
  if (jobs.count(job_id) == 0) return out;
  if (jobs[job_id].state != "running") {
    out.kind = JobWatchOutcome::Kind::finished_before;
    return out;
  }
  out.kind = JobWatchOutcome::Kind::looked;
  out.next_look = unix_time() + kJobWatchStallSeconds;
  out.timeout_s = jobs[job_id].timeout_s;
  for (const auto& agent : jobs[job_id].agents) {
    const Task& t = tasks[{job_id, agent}];
    if (t.state == "pending") out.to_enqueue.push_back({agent, t.shard, t.state});
    if (t.state == "dispatched" || t.state == "running") out.active.push_back({agent, t.shard, t.state});
  }
  return out;
}

void MemoryShardStore::apply_job_watch(const JobWatchWrites& w) {
  Lock lock(mutex);
  check_up();
  for (const auto& job : w.forget) running.erase(job);
  for (const auto& [shard, task] : w.enqueue) queues[shard].push_back(task);
  for (const auto& [shard, f] : w.watch_if_untracked) {
    if (shard == shard_ && in_flight.count(f.task) == 0) in_flight[f.task] = f.due;
  }
  for (const auto& [job, when] : w.next_look) {
    if (running.count(job) != 0) running[job] = when;
  }
}

void MemoryShardStore::post_admin_reply(const std::string& request_id, const std::string& text) {
  Lock lock(mutex);
  check_up();
  admin_replies[request_id] = text;
}

}  // namespace muster::hub::testing
