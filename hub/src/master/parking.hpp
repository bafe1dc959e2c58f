#pragma once
// Tasks of offline agents wait in the store, parked per agent, until the
// agent's presence releases them or their job's delivery deadline expires
// them.
#include <string>

#include "master/shard_context.hpp"

namespace muster::hub {

class Parking {
 public:
  explicit Parking(const ShardContext& shard) : shard_(shard) {}

  void park(const TaskKey& task);
  // The agent came online: its parked tasks go back on the shard's queue.
  void release(const std::string& agent_id);
  // Parked tasks whose job deadline has passed end as expired.
  void expire_overdue();

 private:
  const ShardContext& shard_;
};

}  // namespace muster::hub
