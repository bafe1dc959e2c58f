#pragma once
#include <chrono>
#include <map>
#include <string>

#include "muster/proto/messages.hpp"

namespace muster::agent {

// Results not yet acknowledged by the master, one file per task, so a result
// survives restarts of the agent, the master and the XMPP server.
class Spool {
 public:
  struct Entry {
    std::string payload;  // encoded TaskResult
    std::chrono::steady_clock::time_point last_sent{};
    // Sent inside the answer to its task iq, which the master does not
    // acknowledge: kept (not resent) for a while in case the master asks
    // again by sending the task again.
    bool answered_with_task = false;
    // Acknowledged by the master: off the disk, but kept in memory (not
    // resent) for a while, because a store that loses its last second of
    // writes may forget it recorded the result, and the master then asks
    // again by resending the task.
    bool acknowledged = false;
  };

  explicit Spool(std::string dir);
  // Loads results left by a previous run; corrupt files are logged and dropped.
  proto::Status load();
  proto::Status put(const proto::TaskResult& result);
  // The master has the result: its file goes, the entry stays (acknowledged).
  void settle(const std::string& task_id);
  // Forgets the result altogether.
  void acknowledge(const std::string& task_id);
  bool contains(const std::string& task_id) const { return entries_.count(task_id) != 0; }
  std::map<std::string, Entry>& entries() { return entries_; }

 private:
  std::string path_for(const std::string& task_id) const;

  std::string dir_;
  std::map<std::string, Entry> entries_;
};

}  // namespace muster::agent
