#include "master/parking.hpp"

#include "core/auth.hpp"

namespace muster::hub {
namespace {

constexpr long kExpireLimit = 500;

}  // namespace

void Parking::park(const TaskKey& task) {
  // The agent's presence may have come (and found nothing parked) between
  // our look at its status and now: then release what was just parked. A
  // task queued twice is claimed once.
  if (shard_.store.park(task)) release(task.agent_id);
}

void Parking::release(const std::string& agent_id) { shard_.store.release_parked(agent_id); }

void Parking::expire_overdue() {
  ShardStore& store = shard_.store;
  const double now = unix_time();
  for (const auto& task : store.parked_overdue(now, kExpireLimit)) {
    const auto outcome = store.transition({{task.job_id, task.agent_id, "expired", {"pending"},
                                            {"error", "not delivered before the job deadline (agent offline)",
                                             "finished_at", format_time(now)}}})
                             .front();
    store.unpark(task);
    store.follow_up(task.job_id, outcome);
  }
}

}  // namespace muster::hub
