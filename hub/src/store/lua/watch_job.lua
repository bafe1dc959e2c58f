-- The job watch: repairs what a store outage or a lost follow-up left behind.
-- KEYS: the job's task list, job hash, events, waiting list. ARGV: now, stall
-- seconds, force ('1' or '0'), task key prefix, longest interval between looks
-- at a job that does not move. Returns {'gone'}, {'final'}, {'busy', next
-- check}, or {'repaired', finished (0/1), next check, timeout_s, {agent, shard,
-- ...} to enqueue, {agent, shard, state, ...} dispatched or running}.
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
