-- The dispatcher's claim of a pending task. ARGV: now, agent id. Returns
-- {'send', task id, proof}, {'ended', move outcome...}, {'wait'} or {'gone'}.
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
