-- A task's state change. ARGV: new state, allowed states (comma list), now,
-- field/value pairs.
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
