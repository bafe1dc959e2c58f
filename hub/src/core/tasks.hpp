#pragma once
// Task state changes, shared by api and master. Each change is one script in
// the store: the task's state, its job's counters, the concurrency slots and
// the job's event stream move together, and a change from a state not allowed
// is refused (at-least-once delivery makes late and repeated events normal).
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace muster::hub {

inline constexpr const char* kTaskStates[] = {"pending", "dispatched", "running",  "succeeded", "failed",
                                              "timed_out", "cancelled", "expired", "skipped"};
bool is_final_state(const std::string& state);

struct TransitionOutcome {
  bool moved = false;
  bool job_finished = false;
  bool job_halted = false;                  // this change reached the job's max_failures
  std::optional<std::string> release_agent;  // a task that waited for a concurrency slot
};

// Moves the task of `agent_id` in `job_id` to `new_state` if its current state
// is one of `allowed_from`, setting the extra field/value pairs.
TransitionOutcome transition_task(Store& store, const std::string& job_id, const std::string& agent_id,
                                  const std::string& new_state, const std::vector<std::string>& allowed_from,
                                  const std::vector<std::string>& fields = {});

struct TransitionRequest {
  std::string job_id;
  std::string agent_id;
  std::string new_state;
  std::vector<std::string> allowed_from;
  std::vector<std::string> fields;
};

// Many transitions in one round trip (pipelined scripts), in order; a
// master records a burst of acks and results this way. `then` go to the
// store in the same round trip (see Store::eval_many); their errors are not
// reported, the transitions' are thrown.
std::vector<TransitionOutcome> transition_tasks(Store& store, const std::vector<TransitionRequest>& requests,
                                                const std::vector<Command>& then = {});

enum class Claim { send, wait_for_slot, ended, gone };

struct ClaimDecision {
  Claim claim = Claim::gone;
  TransitionOutcome outcome;  // set when the claim ended the task
  std::string task_id, proof;  // set when the task is to be sent
};
// For the dispatcher, for many (job, agent) pairs in one round trip, in
// order: pending → dispatched if the job still wants the task and a
// concurrency slot is free (the decision then carries what the task iq
// needs); otherwise the task waits for a slot, or ends (cancelled, skipped,
// expired) as the job says.
std::vector<ClaimDecision> claim_for_dispatch(Store& store,
                                              const std::vector<std::pair<std::string, std::string>>& tasks);

// What follows a change: hand a freed slot to a waiting task, skip the rest
// of a halted job, and let a finished job expire after its retention.
void follow_up(Store& store, const std::string& job_id, const TransitionOutcome& outcome);

// A running job that has not moved for this long is looked at by the job watch.
inline constexpr double kJobWatchStallSeconds = 10;
inline constexpr double kJobWatchLongestIntervalSeconds = 300;

// What the job watch found and did to one job (watch_job).
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
// The job watch's look at one running job, in one script: a job that has not
// moved for `stall_s` (or any job, with `force`, after a store outage) has its
// counters recounted from its tasks, its pending tasks ended past the
// deadline or once the job is cancelled or halted, and otherwise, while a
// concurrency slot is free, every pending task handed back for queueing; the
// caller puts those on their queues and the active ones on the in-flight watch.
// A job that never moves is looked at less and less often, down to once per
// `longest_interval_s`, but always at its deadline.
JobWatchOutcome watch_job(Store& store, const std::string& job_id, bool force, double stall_s,
                          double longest_interval_s);

// Appends the task to its agent's shard queue.
void enqueue_task(Store& store, const std::string& job_id, const std::string& agent_id);

std::string format_time(double unix_time);

}  // namespace muster::hub
