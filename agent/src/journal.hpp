#pragma once
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "muster/proto/result.hpp"

namespace muster::agent {

// Every task this agent ever started, flushed to disk before the task starts:
// the guarantee that no task runs twice, across restarts. Lines are
// "start <task id> <job id>", "tree <task id> <tree record> <start time>"
// once its processes run, and "done <task id>" (its result is spooled), so a
// task started and never done was interrupted by a crash or a kill, and its
// tree record says where to look for what is left of it.
class Journal {
 public:
  struct Interrupted {
    std::string task_id;
    std::string job_id;
    std::string tree;         // empty: its processes never started (or left no record)
    double started_at = 0;    // unix time; 0 if unknown
  };

  explicit Journal(std::string path);
  proto::Status load();
  bool contains(const std::string& task_id) const { return started_.count(task_id) != 0; }
  proto::Status record_start(const std::string& task_id, const std::string& job_id);
  // Not flushed to disk: it must outlive the agent's process, not the
  // machine (a power loss ends the task's processes too).
  proto::Status record_tree(const std::string& task_id, const std::string& tree_record, double started_at);
  proto::Status record_done(const std::string& task_id);
  // Tasks started and not done, in no particular order.
  std::vector<Interrupted> interrupted() const;

 private:
  std::string path_;
  std::unordered_map<std::string, std::string> started_;  // task id → job id
  std::unordered_map<std::string, std::pair<std::string, double>> trees_;  // task id → tree record, start
  std::unordered_set<std::string> done_;
};

}  // namespace muster::agent
