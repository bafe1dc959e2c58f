#pragma once
// The task state machine's scripts on a Redis store (store/lua/), and the
// follow-ups of a change. Used by the Redis shard store and by the api's
// cancel; the rest of the hub reaches them through store/shard_store.hpp.
#include <string>
#include <vector>

#include "core/tasks.hpp"
#include "store/store.hpp"

namespace muster::hub {

TransitionOutcome transition_task(Store& store, const std::string& job_id, const std::string& agent_id,
                                  const std::string& new_state, const std::vector<std::string>& allowed_from,
                                  const std::vector<std::string>& fields = {});

// Many transitions in one round trip (pipelined scripts), in order. `then` go
// to the store in the same round trip (see Store::eval_many); their errors are
// not reported, the transitions' are thrown.
std::vector<TransitionOutcome> transition_tasks(Store& store, const std::vector<TransitionRequest>& requests,
                                                const std::vector<Command>& then = {});

// Claims for many tasks in one round trip, in order.
std::vector<ClaimDecision> claim_for_dispatch(Store& store, const std::vector<TaskKey>& tasks);

// What follows a change: hand a freed slot to a waiting task, skip the rest
// of a halted job, and let a finished job expire after its retention.
void follow_up(Store& store, const std::string& job_id, const TransitionOutcome& outcome);

// The job watch's look at one running job, in one script (core/tasks.hpp).
JobWatchOutcome watch_job(Store& store, const std::string& job_id, bool force, double stall_s,
                          double longest_interval_s);

// Appends the task to its agent's shard queue.
void enqueue_task(Store& store, const std::string& job_id, const std::string& agent_id);

}  // namespace muster::hub
