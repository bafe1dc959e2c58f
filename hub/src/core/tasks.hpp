#pragma once
// Task state changes, shared by api and master. Each change is one script
// run in the store: the task's state and its job's counters move together,
// and a change from a state not allowed is refused (at-least-once delivery
// makes late and repeated events normal).
#include <string>
#include <vector>

#include "store/store.hpp"

namespace muster::hub {

inline constexpr const char* kTaskStates[] = {"pending",   "dispatched", "running", "succeeded",
                                              "failed",    "timed_out",  "cancelled", "expired"};
bool is_final_state(const std::string& state);

// Moves the task of `agent_id` in `job_id` to `new_state` if its current state
// is one of `allowed_from`, setting the extra field/value pairs. Returns
// whether it moved. When the last task of a job reaches a final state, the
// job gets its final state and finished_at.
bool transition_task(Store& store, const std::string& job_id, const std::string& agent_id,
                     const std::string& new_state, const std::vector<std::string>& allowed_from,
                     const std::vector<std::string>& fields = {});

}  // namespace muster::hub
