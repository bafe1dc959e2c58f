#pragma once
// Sends claimed tasks to their agents, within the shard's dispatch window: at
// most kDispatchWindow tasks sent and not yet answered. More would only queue
// up in the XMPP server (Prosody routes one stanza at a time on one core)
// until acks arrive later than kAckWaitSeconds and the sweep sends duplicates
// into the same queue. A thousand keeps the server busy at every speed
// measured here (bench/RESULTS.md).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "master/shard_context.hpp"
#include "metrics/metrics.hpp"

namespace muster::hub {

inline constexpr long kDispatchWindow = 1000;
// Tasks are taken from the queue in batches of at least this many while
// answers are coming back: every batch costs a few store round trips, and a
// trickle of tiny batches (one per answer) kept the window from ever filling
// on a fast server.
inline constexpr long kMinBatch = kDispatchWindow / 4;

class TaskSender {
 public:
  struct Claimed {
    std::string job_id, agent_id, task_id, proof;
  };

  explicit TaskSender(const ShardContext& shard)
      : shard_(shard),
        in_flight_gauge_(metrics::registry().gauge("muster_dispatch_window_in_flight",
                                                   "Tasks sent and not yet acknowledged, by shard",
                                                   {{"shard", shard.shard}})) {}

  // Reads each job's signed statement once and posts the task iqs to the
  // XMPP thread. The in-flight records in `watch` are written in the same
  // round trip as those reads.
  void send(const std::vector<Claimed>& tasks, const std::vector<InFlight>& watch);
  // Any thread: an answer (ack, refusal, result) to a task came back.
  void answered();
  // How many more tasks may be sent now (dispatcher thread).
  long room();
  // Waits (briefly) until answers free room for a whole batch; returns the room.
  long wait_for_room(const std::atomic<bool>& stopping);

 private:
  const ShardContext& shard_;
  std::atomic<long> awaiting_answer_{0};
  metrics::Gauge& in_flight_gauge_;
  std::optional<std::chrono::steady_clock::time_point> full_since_;
  std::mutex room_mutex_;
  std::condition_variable room_freed_;
};

}  // namespace muster::hub
