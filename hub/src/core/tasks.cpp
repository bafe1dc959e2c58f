#include "core/tasks.hpp"

#include <cstdio>

#include "core/auth.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

// Shared by every script. KEYS[2..4]: job hash, job events stream, job slot
// waiting list (KEYS[1] is the task hash, or the job's task list for the
// watch). move() returns {moved, agent to release, halted, finished}. Every
// change stamps the job's progress_at, which tells the watch a job is moving.
constexpr const char* kLibrary = R"lua(
local FINAL = {succeeded = true, failed = true, timed_out = true, cancelled = true, expired = true, skipped = true}
local STATES = {'pending', 'dispatched', 'running', 'succeeded', 'failed', 'timed_out', 'cancelled', 'expired', 'skipped'}
local JOB, EVENTS, WAITING = KEYS[2], KEYS[3], KEYS[4]
local function num(v) return tonumber(v or '0') or 0 end
local function finish_job(now)
  local j = redis.call('HMGET', JOB, 'n_succeeded', 'total', 'cancel_requested')
  local state = 'failed'
  if j[1] == j[2] then state = 'succeeded' elseif j[3] == '1' then state = 'cancelled' end
  redis.call('HSET', JOB, 'state', state, 'finished_at', now)
  redis.call('XADD', EVENTS, 'MAXLEN', '~', '10000', '*', 'type', 'job', 'state', state)
end
local function move(task, new, now, fields)
  local current = redis.call('HGET', task, 'state')
  local args = {'state', new}
  for i = 1, #fields do args[#args + 1] = fields[i] end
  redis.call('HSET', task, unpack(args))
  local out = {1, '', 0, 0}
  if current == new then return out end
  redis.call('HINCRBY', JOB, 'n_' .. current, -1)
  redis.call('HINCRBY', JOB, 'n_' .. new, 1)
  redis.call('HSET', JOB, 'progress_at', now)
  redis.call('XADD', EVENTS, 'MAXLEN', '~', '10000', '*', 'type', 'state',
             'agent', redis.call('HGET', task, 'agent_id'), 'state', new)
  local job = redis.call('HMGET', JOB, 'concurrency', 'max_failures', 'halted', 'n_failed', 'n_timed_out')
  if num(job[1]) > 0 and (current == 'dispatched' or current == 'running') and new ~= 'running' then
    local waiting = redis.call('LPOP', WAITING)
    if waiting then out[2] = waiting end
  end
  if FINAL[new] and not FINAL[current] then
    if (new == 'failed' or new == 'timed_out') and num(job[2]) > 0 and job[3] ~= '1'
        and num(job[4]) + num(job[5]) >= num(job[2]) then
      redis.call('HSET', JOB, 'halted', '1')
      out[3] = 1
    end
    if redis.call('HINCRBY', JOB, 'remaining', -1) == 0 then
      finish_job(now)
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
    return move(KEYS[1], ARGV[1], ARGV[3], fields)
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
  local o = move(KEYS[1], state, ARGV[1], {'error', why, 'finished_at', ARGV[1]})
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
move(KEYS[1], 'dispatched', ARGV[1], {'dispatched_at', ARGV[1]})
local task = redis.call('HMGET', KEYS[1], 'task_id', 'proof')
return {'send', task[1] or '', task[2] or ''}
)lua";

// The job watch: repairs what a store outage or a lost follow-up left behind
// (see watch_job). KEYS: the job's task list, job hash, events, waiting list.
// ARGV: now, stall seconds, force ('1' or '0'), task key prefix, longest
// interval between looks at a job that does not move.
// Returns {'gone'}, {'final'}, {'busy', next check}, or {'repaired', finished
// (0/1), next check, timeout_s, {agent, shard, ...} to enqueue, {agent,
// shard, state, ...} dispatched or running}.
constexpr const char* kWatchBody = R"lua(
local now, stall, force, prefix = tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3] == '1', ARGV[4]
local job = redis.call('HMGET', JOB, 'state', 'concurrency', 'deadline', 'progress_at', 'created_at', 'halted',
                       'cancel_requested', 'watched_at', 'watch_interval', 'timeout_s', 'n_pending', 'forced_at')
if not job[1] then return {'gone'} end
if job[1] ~= 'running' then return {'final'} end
local deadline, moved_at, watched_at = num(job[3]), math.max(num(job[4]), num(job[5])), num(job[8])
local interval = math.max(num(job[9]), stall)
local expire_now = deadline > 0 and now > deadline and num(job[11]) > 0
local function capped(t)
  if deadline > now and t > deadline then return deadline + 0.001 end
  return t
end
-- After a store outage every master looks at every job: one look will do.
if force then
  if now - num(job[12]) < 2 then return {'busy', tostring(capped(now + interval))} end
  redis.call('HSET', JOB, 'forced_at', ARGV[1])
end
if not force and not expire_now and now < math.max(moved_at, watched_at) + interval then
  return {'busy', tostring(capped(math.max(moved_at, watched_at) + interval))}
end
-- Nothing moved since the last look: look less often (jobs whose agents are
-- all offline), down to once per longest interval.
if watched_at > moved_at then interval = math.min(interval * 2, tonumber(ARGV[5])) else interval = stall end
redis.call('HSET', JOB, 'watched_at', ARGV[1], 'watch_interval', tostring(interval))

-- The counters follow from the tasks' states; recount them, in case the
-- store kept some writes of the last second and not others.
-- A task listed twice (a job's writes retried after a lost reply) counts once.
local agents, seen, unique = redis.call('LRANGE', KEYS[1], 0, -1), {}, 0
local counts, pending, active = {}, {}, {}
for _, s in ipairs(STATES) do counts[s] = 0 end
for _, a in ipairs(agents) do
  local t = seen[a] == nil and redis.call('HMGET', prefix .. a, 'state', 'shard') or {}
  seen[a] = true
  if t[1] and counts[t[1]] then
    unique = unique + 1
    counts[t[1]] = counts[t[1]] + 1
    if t[1] == 'pending' then
      pending[#pending + 1] = {a, t[2] or ''}
    elseif t[1] == 'dispatched' or t[1] == 'running' then
      active[#active + 1] = a; active[#active + 1] = t[2] or ''; active[#active + 1] = t[1]
    end
  end
end
local remaining = 0
for _, s in ipairs(STATES) do
  redis.call('HSET', JOB, 'n_' .. s, counts[s])
  if not FINAL[s] then remaining = remaining + counts[s] end
end
redis.call('HSET', JOB, 'remaining', remaining, 'total', unique)
if remaining == 0 then
  finish_job(ARGV[1])
  return {'repaired', 1, tostring(now), job[10] or '0', {}, {}}
end

local finished = 0
local ending, why
if job[7] == '1' then ending, why = 'cancelled', 'cancelled before dispatch'
elseif job[6] == '1' then ending, why = 'skipped', 'skipped: the job reached its max_failures'
elseif deadline > 0 and now > deadline then ending, why = 'expired', 'not delivered before the job deadline' end
local enqueue = {}
if ending then
  for _, p in ipairs(pending) do
    local o = move(prefix .. p[1], ending, ARGV[1], {'error', why, 'finished_at', ARGV[1]})
    if o[4] == 1 then finished = 1 end
  end
  redis.call('DEL', WAITING)
elseif #pending > 0 then
  local busy = counts['dispatched'] + counts['running']
  local limit = num(job[2])
  if limit == 0 or busy < limit then
    -- A free slot, and tasks to fill it: the queue entries, the waiting list
    -- or the parking that held them may be gone. Queue them all again; each
    -- claim either sends its task or puts it back on a fresh waiting list.
    redis.call('DEL', WAITING)
    for _, p in ipairs(pending) do
      enqueue[#enqueue + 1] = p[1]
      enqueue[#enqueue + 1] = p[2]
    end
  end
end
return {'repaired', finished, tostring(capped(now + interval)), job[10] or '0', enqueue, active}
)lua";

const std::string& transition_script() {
  static const std::string script = std::string(kLibrary) + kTransitionBody;
  return script;
}

const std::string& claim_script() {
  static const std::string script = std::string(kLibrary) + kClaimBody;
  return script;
}

const std::string& watch_script() {
  static const std::string script = std::string(kLibrary) + kWatchBody;
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
