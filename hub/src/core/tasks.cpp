#include "core/tasks.hpp"

#include <cstdio>

#include "core/auth.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

// KEYS: task hash, job hash. ARGV: new state, allowed states (comma list),
// now, then field/value pairs.
constexpr const char* kTransitionScript = R"lua(
local current = redis.call('HGET', KEYS[1], 'state')
if not current then return -1 end
local allowed = false
for s in string.gmatch(ARGV[2], '[^,]+') do
  if s == current then allowed = true end
end
if not allowed then return 0 end
local new = ARGV[1]
local fields = {'state', new}
for i = 4, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[1], unpack(fields))
if current == new then return 1 end
redis.call('HINCRBY', KEYS[2], 'n_' .. current, -1)
redis.call('HINCRBY', KEYS[2], 'n_' .. new, 1)
local final = {succeeded = true, failed = true, timed_out = true, cancelled = true, expired = true}
if final[new] and not final[current] then
  local left = redis.call('HINCRBY', KEYS[2], 'remaining', -1)
  if left == 0 then
    local job = redis.call('HMGET', KEYS[2], 'n_succeeded', 'total', 'cancel_requested')
    local state = 'failed'
    if job[1] == job[2] then state = 'succeeded' elseif job[3] == '1' then state = 'cancelled' end
    redis.call('HSET', KEYS[2], 'state', state, 'finished_at', ARGV[3])
  end
end
return 1
)lua";

}  // namespace

bool is_final_state(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "timed_out" || state == "cancelled" ||
         state == "expired";
}

bool transition_task(Store& store, const std::string& job_id, const std::string& agent_id,
                     const std::string& new_state, const std::vector<std::string>& allowed_from,
                     const std::vector<std::string>& fields) {
  std::string allowed;
  for (const auto& s : allowed_from) allowed += (allowed.empty() ? "" : ",") + s;
  char now[32];
  std::snprintf(now, sizeof now, "%.6f", unix_time());
  std::vector<std::string> args{new_state, allowed, now};
  args.insert(args.end(), fields.begin(), fields.end());
  const Reply r = store.eval(kTransitionScript, {keys::task(job_id, agent_id), keys::job(job_id)}, args);
  return r.integer == 1;
}

}  // namespace muster::hub
