#include "store/redis_leases.hpp"

#include "store/keys.hpp"
#include "store/lua_scripts.hpp"

namespace muster::hub {

std::optional<std::string> RedisLeases::acquire(const std::string& shard, const std::string& holder_id, long ms) {
  const Reply won = store_.eval(lua::lease_acquire, {keys::shard_lease(shard), keys::shard_fence(shard)},
                                {holder_id, std::to_string(ms)});
  if (won.kind != Reply::Kind::string) return std::nullopt;
  return won.text;
}

bool RedisLeases::renew(const std::string& shard, const std::string& token, long ms) {
  return store_.eval(lua::lease_renew, {keys::shard_lease(shard)}, {token, std::to_string(ms)}).integer == 1;
}

void RedisLeases::release(const std::string& shard, const std::string& token) {
  store_.eval(lua::lease_release, {keys::shard_lease(shard)}, {token});
}

}  // namespace muster::hub
