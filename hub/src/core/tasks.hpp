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

// Appends the task to its agent's shard queue.
void enqueue_task(Store& store, const std::string& job_id, const std::string& agent_id);

std::string format_time(double unix_time);

}  // namespace muster::hub
