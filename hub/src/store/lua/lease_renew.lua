-- Renews only a lease we still hold: a lease that lapsed and was taken by
-- another master is never extended by us. KEYS: lease. ARGV: token, ms.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
