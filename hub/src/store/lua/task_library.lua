-- Shared by every task script (prepended to each). KEYS[2..4]: job hash, job
-- events stream, job slot waiting list (KEYS[1] is the task hash, or the job's
-- task list for the watch). move() returns {moved, agent to release, halted,
-- finished}. Every change stamps the job's progress_at, which tells the watch
-- a job is moving.
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
