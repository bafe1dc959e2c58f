#pragma once
// Tasks as the hub's parts speak of them: states, the outcome of a state
// change, the dispatcher's claim, the job watch's look. The changes
// themselves are the store's (store/shard_store.hpp): in Redis each is one
// script, so a task's state, its job's counters, the concurrency slots and
// the job's event stream move together, and a change from a state not
// allowed is refused (at-least-once delivery makes late and repeated events
// normal).
#include <optional>
#include <string>
#include <vector>

namespace muster::hub {

inline constexpr const char* kTaskStates[] = {"pending", "dispatched", "running",  "succeeded", "failed",
                                              "timed_out", "cancelled", "expired", "skipped"};
bool is_final_state(const std::string& state);

// One task: a job's work on one agent.
struct TaskKey {
  std::string job_id;
  std::string agent_id;
  bool operator==(const TaskKey& o) const { return job_id == o.job_id && agent_id == o.agent_id; }
  bool operator<(const TaskKey& o) const {
    return job_id < o.job_id || (job_id == o.job_id && agent_id < o.agent_id);
  }
};

struct TransitionOutcome {
  bool moved = false;
  bool job_finished = false;
  bool job_halted = false;                  // this change reached the job's max_failures
  std::optional<std::string> release_agent;  // a task that waited for a concurrency slot
};

// Move the task of `agent_id` in `job_id` to `new_state` if its current state
// is one of `allowed_from`, setting the extra field/value pairs.
struct TransitionRequest {
  std::string job_id;
  std::string agent_id;
  std::string new_state;
  std::vector<std::string> allowed_from;
  std::vector<std::string> fields;
};

enum class Claim { send, wait_for_slot, ended, gone };

// The dispatcher's claim of a pending task: pending → dispatched if the job
// still wants the task and a concurrency slot is free (the decision then
// carries what the task iq needs); otherwise the task waits for a slot, or
// ends (cancelled, skipped, expired) as the job says.
struct ClaimDecision {
  Claim claim = Claim::gone;
  TransitionOutcome outcome;  // set when the claim ended the task
  std::string task_id, proof;  // set when the task is to be sent
};

// A running job that has not moved for this long is looked at by the job watch.
inline constexpr double kJobWatchStallSeconds = 10;
inline constexpr double kJobWatchLongestIntervalSeconds = 300;

// What the job watch found and did to one job. A job that has not moved for
// the stall time (or any job, when forced after a store outage) has its
// counters recounted from its tasks, its pending tasks ended past the
// deadline or once the job is cancelled or halted, and otherwise, while a
// concurrency slot is free, every pending task handed back for queueing; the
// caller puts those on their queues and the active ones on the in-flight
// watch. A job that never moves is looked at less and less often, down to
// once per longest interval, but always at its deadline.
struct JobWatchOutcome {
  enum class Kind { gone, finished_before, not_due, looked };
  struct TaskRef {
    std::string agent_id, shard, state;
  };
  Kind kind = Kind::gone;
  bool job_finished = false;  // this look ended the job
  double next_look = 0;       // unix time; set for not_due and looked
  double timeout_s = 0;
  std::vector<TaskRef> to_enqueue;  // pending with a free slot: to go back on their shard's queue
  std::vector<TaskRef> active;      // dispatched or running: to be on their shard's in-flight watch
};

std::string format_time(double unix_time);

}  // namespace muster::hub
