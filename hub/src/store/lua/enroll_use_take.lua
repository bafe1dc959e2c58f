-- Takes one use only when one is left, in one step: a refused attempt leaves
-- the token as it was, and a token that expired or was revoked meanwhile is
-- not brought back as a bare hash. KEYS: token hash. Returns the uses left
-- after this one, or -1 when none was left (or the token is gone).
local uses = tonumber(redis.call('HGET', KEYS[1], 'uses'))
if uses == nil or uses <= 0 then return -1 end
return redis.call('HINCRBY', KEYS[1], 'uses', -1)
