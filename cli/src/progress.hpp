#pragma once
// A job's progress as its event stream tells it: each task's latest state,
// counts by state, and the one-line summary a terminal redraws in place.
#include <cstddef>
#include <map>
#include <string>

namespace muster::cli {

// The final task states of docs/api.md.
bool is_final_state(const std::string& state);

class JobTally {
 public:
  explicit JobTally(std::size_t total) : total_(total) {}

  // Records a task's new state; returns true if the task just reached a
  // final state (a repeated event, e.g. after a reconnect, returns false).
  bool record(const std::string& agent_id, const std::string& state);

  std::size_t total() const { return total_; }
  std::size_t done() const { return done_; }
  std::size_t count(const std::string& state) const;
  std::size_t succeeded() const { return count("succeeded"); }
  std::size_t unsuccessful() const { return done_ - succeeded(); }  // any final state but succeeded
  std::size_t running() const { return count("running") + count("dispatched"); }
  const std::map<std::string, std::string>& states() const { return state_of_; }
  const std::map<std::string, std::size_t>& counts() const { return counts_; }

 private:
  std::size_t total_;
  std::size_t done_ = 0;
  std::map<std::string, std::string> state_of_;  // agent id -> latest state
  std::map<std::string, std::size_t> counts_;    // state -> tasks (not "pending")
};

// "45s", "2m05s", "1h02m".
std::string format_duration(double seconds);

// "12/100 done  10 ok  2 failed  5 running  3.4/s  ETA 26s", cut to `width`
// columns (0: no limit). Rate and ETA appear once a task is done.
std::string format_progress(const JobTally& tally, double elapsed_s, std::size_t width);

using StateCounts = std::map<std::string, std::size_t>;  // state -> tasks

// "3 tasks: 2 succeeded, 1 failed in 1.2s": the final states with tasks, and
// how many are not finished.
std::string format_summary(const StateCounts& counts, std::size_t total, double elapsed_s);

}  // namespace muster::cli
