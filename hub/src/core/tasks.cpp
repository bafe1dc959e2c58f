#include "core/tasks.hpp"

#include <cstdio>

#include "core/auth.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

// Shared by both scripts. KEYS: task hash, job hash, job events stream, job
// slot waiting list. move() returns {moved, agent to release, halted, finished}.
constexpr const char* kLibrary = R"lua(
local FINAL = {succeeded = true, failed = true, timed_out = true, cancelled = true, expired = true, skipped = true}
local function num(v) return tonumber(v or '0') or 0 end
local function move(new, now, fields)
  local current = redis.call('HGET', KEYS[1], 'state')
  local args = {'state', new}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  redis.call('HSET', KEYS[1], unpack(args))
  local out = {1, '', 0, 0}
  if current == new then return out end
  redis.call('HINCRBY', KEYS[2], 'n_' .. current, -1)
  redis.call('HINCRBY', KEYS[2], 'n_' .. new, 1)
  redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'type', 'state',
             'agent', redis.call('HGET', KEYS[1], 'agent_id'), 'state', new)
  local job = redis.call('HMGET', KEYS[2], 'concurrency', 'max_failures', 'halted', 'n_failed', 'n_timed_out')
  if num(job[1]) > 0 and (current == 'dispatched' or current == 'running') and new ~= 'running' then
    local waiting = redis.call('LPOP', KEYS[4])
    if waiting then out[2] = waiting end
  end
  if FINAL[new] and not FINAL[current] then
    if (new == 'failed' or new == 'timed_out') and num(job[2]) > 0 and job[3] ~= '1'
        and num(job[4]) + num(job[5]) >= num(job[2]) then
      redis.call('HSET', KEYS[2], 'halted', '1')
      out[3] = 1
    end
    if redis.call('HINCRBY', KEYS[2], 'remaining', -1) == 0 then
      local j = redis.call('HMGET', KEYS[2], 'n_succeeded', 'total', 'cancel_requested')
      local state = 'failed'
      if j[1] == j[2] then state = 'succeeded' elseif j[3] == '1' then state = 'cancelled' end
      redis.call('HSET', KEYS[2], 'state', state, 'finished_at', now)
      redis.call('XADD', KEYS[3], 'MAXLEN', '~', '10000', '*', 'type', 'job', 'state', state)
      out[4] = 1
    end
  end
  return out
end
)lua";

// ARGV: new state, allowed states (comma list), now, field/value pairs.
constexpr const char* kTransitionBody = R"lua(
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return {0, '', 0, 0} end
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == current then
    local fields = {}
    for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
    return move(ARGV[1], ARGV[3], fields)
  end
end
return {0, '', 0, 0}
)lua";

// ARGV: now, agent id. Returns {'send', task id, proof}, {'ended', move
// outcome...}, {'wait'} or {'gone'}.
constexpr const char* kClaimBody = R"lua(
if redis.call('HGET', KEYS[1], 'state') ~= 'pending' then return {'gone'} end
local job = redis.call('HMGET', KEYS[2], 'cancel_requested', 'halted', 'concurrency', 'n_dispatched', 'n_running', 'deadline')
local function finish(state, why)
  local o = move(state, ARGV[1], {'error', why, 'finished_at', ARGV[1]})
  return {'ended', o[1], o[2], o[3], o[4]}
end
if job[1] == '1' then return finish('cancelled', 'cancelled before dispatch') end
if job[2] == '1' then return finish('skipped', 'skipped: the job reached its max_failures') end
if num(job[6]) > 0 and tonumber(ARGV[1]) > num(job[6]) then
  return finish('expired', 'not delivered before the job deadline')
end
if num(job[3]) > 0 and num(job[4]) + num(job[5]) >= num(job[3]) then
  redis.call('RPUSH', KEYS[4], ARGV[2])
  return {'wait'}
end
move('dispatched', ARGV[1], {'dispatched_at', ARGV[1]})
local task = redis.call('HMGET', KEYS[1], 'task_id', 'proof')
return {'send', task[1] or '', task[2] or ''}
)lua";

const std::string& transition_script() {
  static const std::string script = std::string(kLibrary) + kTransitionBody;
  return script;
}

const std::string& claim_script() {
  static const std::string script = std::string(kLibrary) + kClaimBody;
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

std::string format_time(double t) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", t);
  return text;
}

bool is_final_state(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "timed_out" || state == "cancelled" ||
         state == "expired" || state == "skipped";
}

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

std::vector<ClaimDecision> claim_for_dispatch(Store& store,
                                              const std::vector<std::pair<std::string, std::string>>& tasks) {
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
    std::vector<Command> expire{{"EXPIRE", keys::job(job_id), ttl},
                                {"EXPIRE", keys::job_tasks(job_id), ttl},
                                {"EXPIRE", keys::job_events(job_id), ttl},
                                {"DEL", keys::job_slot_queue(job_id)}};
    for (const auto& agent : agents.elements) expire.push_back({"EXPIRE", keys::task(job_id, agent.text), ttl});
    store.pipeline(expire);
  }
}

}  // namespace muster::hub
