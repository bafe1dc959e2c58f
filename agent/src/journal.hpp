#pragma once
#include <string>
#include <unordered_set>

#include "muster/proto/result.hpp"

namespace muster::agent {

// Every task id this agent ever started, one per line, flushed to disk before
// the task starts: the guarantee that no task runs twice, across restarts.
class Journal {
 public:
  explicit Journal(std::string path);
  proto::Status load();
  bool contains(const std::string& task_id) const { return ids_.count(task_id) != 0; }
  proto::Status record(const std::string& task_id);

 private:
  std::string path_;
  std::unordered_set<std::string> ids_;
};

}  // namespace muster::agent
