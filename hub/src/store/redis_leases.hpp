#pragma once
// Shard leases on Redis (lua/lease_*.lua): a lease is a key with a short
// expiry whose value, the holder's token, carries a fencing counter.
#include <optional>
#include <string>

#include "store/store.hpp"

namespace muster::hub {

class RedisLeases {
 public:
  explicit RedisLeases(Store& store) : store_(store) {}
  // Takes a free lease for `ms`: its token, or none while another holds it.
  std::optional<std::string> acquire(const std::string& shard, const std::string& holder_id, long ms);
  // Extends a lease we still hold; false once it lapsed or another holds it.
  bool renew(const std::string& shard, const std::string& token, long ms);
  void release(const std::string& shard, const std::string& token);

 private:
  Store& store_;
};

}  // namespace muster::hub
