-- Takes a free lease and stamps it with a new fencing token. KEYS: lease,
-- fence counter. ARGV: holder id, ms.
if redis.call('EXISTS', KEYS[1]) == 1 then return false end
local token = ARGV[1] .. ':' .. redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return token
