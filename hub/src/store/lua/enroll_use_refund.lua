-- Gives a use back after an enrollment that took it failed later on (the
-- master did not create the account), unless the token is gone by now.
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
return redis.call('HINCRBY', KEYS[1], 'uses', 1)
