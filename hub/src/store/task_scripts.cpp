#include "store/task_scripts.hpp"

#include "core/auth.hpp"
#include "store/keys.hpp"
#include "store/lua_scripts.hpp"

namespace muster::hub {
namespace {

// Each task script is the shared library followed by its own body.
const std::string& transition_script() {
  static const std::string script = std::string(lua::task_library) + lua::transition;
  return script;
}

const std::string& claim_script() {
  static const std::string script = std::string(lua::task_library) + lua::claim;
  return script;
}

const std::string& watch_script() {
  static const std::string script = std::string(lua::task_library) + lua::watch_job;
  return script;
}

std::vector<std::string> script_keys(const std::string& job_id, const std::string& agent_id) {
  return {keys::task(job_id, agent_id), keys::job(job_id), keys::job_events(job_id), keys::job_slot_queue(job_id)};
}

TransitionOutcome to_outcome(const Reply& r, std::size_t offset) {
  TransitionOutcome o;
  if (r.elements.size() < offset + 4) return o;
  o.moved = r.elements[offset].integer == 1;
  if (!r.elements[offset + 1].text.empty()) o.release_agent = r.elements[offset + 1].text;
  o.job_halted = r.elements[offset + 2].integer == 1;
  o.job_finished = r.elements[offset + 3].integer == 1;
  return o;
}

}  // namespace

TransitionOutcome transition_task(Store& store, const std::string& job_id, const std::string& agent_id,
                                  const std::string& new_state, const std::vector<std::string>& allowed_from,
                                  const std::vector<std::string>& fields) {
  return transition_tasks(store, {{job_id, agent_id, new_state, allowed_from, fields}}).front();
}

std::vector<TransitionOutcome> transition_tasks(Store& store, const std::vector<TransitionRequest>& requests,
                                                const std::vector<Command>& then) {
  const std::string now = format_time(unix_time());
  std::vector<Store::ScriptCall> calls;
  calls.reserve(requests.size());
  for (const auto& r : requests) {
    std::string allowed;
    for (const auto& s : r.allowed_from) allowed += (allowed.empty() ? "" : ",") + s;
    std::vector<std::string> args{r.new_state, allowed, now};
    args.insert(args.end(), r.fields.begin(), r.fields.end());
    calls.push_back({script_keys(r.job_id, r.agent_id), std::move(args)});
  }
  const auto replies = store.eval_many(transition_script(), calls, then);
  std::vector<TransitionOutcome> outcomes;
  outcomes.reserve(requests.size());
  for (std::size_t i = 0; i < calls.size(); ++i) outcomes.push_back(to_outcome(replies[i], 0));
  return outcomes;
}

std::vector<ClaimDecision> claim_for_dispatch(Store& store, const std::vector<TaskKey>& tasks) {
  const std::string now = format_time(unix_time());
  std::vector<Store::ScriptCall> calls;
  calls.reserve(tasks.size());
  for (const auto& [job_id, agent_id] : tasks) calls.push_back({script_keys(job_id, agent_id), {now, agent_id}});
  std::vector<ClaimDecision> decisions;
  decisions.reserve(tasks.size());
  for (const auto& r : store.eval_many(claim_script(), calls)) {
    ClaimDecision d;
    const std::string decision = r.elements.empty() ? "gone" : r.elements[0].text;
    if (decision == "send") {
      // The task is dispatched now: it must reach the in-flight list even if
      // its record is damaged, so the sweep keeps looking at it.
      d.claim = Claim::send;
      if (r.elements.size() == 3) {
        d.task_id = r.elements[1].text;
        d.proof = r.elements[2].text;
      }
    } else if (decision == "wait") {
      d.claim = Claim::wait_for_slot;
    } else if (decision == "ended") {
      d.claim = Claim::ended;
      d.outcome = to_outcome(r, 1);
    }
    decisions.push_back(std::move(d));
  }
  return decisions;
}

JobWatchOutcome watch_job(Store& store, const std::string& job_id, bool force, double stall_s,
                          double longest_interval_s) {
  const std::string task_prefix = keys::task(job_id, "");
  const Reply r = store.eval(watch_script(),
                             {keys::job_tasks(job_id), keys::job(job_id), keys::job_events(job_id),
                              keys::job_slot_queue(job_id)},
                             {format_time(unix_time()), format_time(stall_s), force ? "1" : "0", task_prefix,
                              format_time(longest_interval_s)});
  JobWatchOutcome out;
  const std::string kind = r.elements.empty() ? "gone" : r.elements[0].text;
  auto number = [&](std::size_t i) {
    try {
      return r.elements.size() > i ? std::stod(r.elements[i].text) : 0.0;
    } catch (const std::exception&) {
      return 0.0;
    }
  };
  if (kind == "final") out.kind = JobWatchOutcome::Kind::finished_before;
  if (kind == "busy") {
    out.kind = JobWatchOutcome::Kind::not_due;
    out.next_look = number(1);
  }
  if (kind != "repaired" || r.elements.size() != 6) return out;
  out.kind = JobWatchOutcome::Kind::looked;
  out.job_finished = r.elements[1].integer == 1;
  out.next_look = number(2);
  out.timeout_s = number(3);
  const auto& enqueue = r.elements[4].elements;
  for (std::size_t i = 0; i + 1 < enqueue.size(); i += 2) out.to_enqueue.push_back({enqueue[i].text, enqueue[i + 1].text, "pending"});
  const auto& active = r.elements[5].elements;
  for (std::size_t i = 0; i + 2 < active.size(); i += 3) {
    out.active.push_back({active[i].text, active[i + 1].text, active[i + 2].text});
  }
  return out;
}

void enqueue_task(Store& store, const std::string& job_id, const std::string& agent_id) {
  const std::string shard = store.run({"HGET", keys::task(job_id, agent_id), "shard"}).text;
  store.run({"XADD", keys::dispatch_queue(shard), "*", "job", job_id, "agent", agent_id});
}

void follow_up(Store& store, const std::string& job_id, const TransitionOutcome& outcome) {
  if (outcome.release_agent) enqueue_task(store, job_id, *outcome.release_agent);
  bool finished = outcome.job_finished;
  if (outcome.job_halted) {
    const Reply agents = store.run({"LRANGE", keys::job_tasks(job_id), "0", "-1"});
    for (const auto& agent : agents.elements) {
      const auto skipped = transition_task(store, job_id, agent.text, "skipped", {"pending"},
                                           {"error", "skipped: the job reached its max_failures", "finished_at",
                                            format_time(unix_time())});
      finished = finished || skipped.job_finished;
    }
    store.run({"DEL", keys::job_slot_queue(job_id)});
  }
  if (finished) {
    const Reply retention = store.run({"HGET", keys::job(job_id), "retention_s"});
    const std::string ttl = retention.text.empty() ? "604800" : retention.text;
    const Reply agents = store.run({"LRANGE", keys::job_tasks(job_id), "0", "-1"});
    std::vector<Command> expire{{"ZREM", keys::kRunningJobs, job_id},
                                {"EXPIRE", keys::job(job_id), ttl},
                                {"EXPIRE", keys::job_tasks(job_id), ttl},
                                {"EXPIRE", keys::job_events(job_id), ttl},
                                {"DEL", keys::job_slot_queue(job_id)}};
    for (const auto& agent : agents.elements) expire.push_back({"EXPIRE", keys::task(job_id, agent.text), ttl});
    store.pipeline(expire);
  }
}

}  // namespace muster::hub
