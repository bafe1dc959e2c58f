#pragma once
// Child processes for tasks. Each task runs in its own process group (a Job
// Object on Windows) so that a timeout or cancel kills the whole tree.
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "muster/proto/result.hpp"

namespace muster::agent::platform {

struct ProcessSpec {
  std::optional<std::string> shell_command;  // run through the system shell
  std::vector<std::string> argv;             // or run directly (PATH lookup)
  // When the agent is privileged, run as this account instead (empty: keep
  // the agent's identity). Ignored when the agent is not privileged.
  // POSIX: privileged = root, any account. Windows: privileged = LocalSystem,
  // and only LocalService or NetworkService (windows/run_as.hpp); another
  // name is an error and nothing runs.
  std::string run_as_user;
};

struct ExitStatus {
  std::optional<int> exit_code;  // normal exit
  std::optional<int> signal;     // killed by a signal
};

enum class OutputStream { out, err };

class ChildProcess {
 public:
  virtual ~ChildProcess() = default;
  // Reads whatever the child has written, without blocking.
  virtual void read_available(const std::function<void(OutputStream, std::string_view)>& sink) = 0;
  // True once both output pipes reached end of file.
  virtual bool output_closed() const = 0;
  // The main process's status once it has exited, without blocking.
  virtual std::optional<ExitStatus> try_wait() = 0;
  // Kills every process of the task's tree.
  virtual void kill_tree() = 0;
  // Stops reading: closes the pipes (for trees that escaped and keep them open).
  virtual void close_output() = 0;
  // What a later run of the agent needs to find this tree again if the agent
  // dies first (see end_leftover_tree); one word, no blanks. Empty where the
  // tree cannot outlive the agent (Windows: the Job Object is killed when the
  // agent's handle to it closes).
  virtual std::string tree_record() const = 0;
};

enum class Leftover { none, killed };
// At start: kills whatever is left of a task tree that a previous run of the
// agent started (its tree_record()), and says whether anything was.
Leftover end_leftover_tree(const std::string& tree_record);

// Starts a child; the error says why it could not run (e.g. no such program).
proto::Result<std::unique_ptr<ChildProcess>> start_process(const ProcessSpec& spec);

// Called once at agent start: orphans of task trees are re-parented to the
// agent (so nothing escapes by double fork) and reaped by reap_orphans().
void adopt_orphans();
void reap_orphans();

}  // namespace muster::agent::platform
