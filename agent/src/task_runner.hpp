#pragma once
// Runs tasks as child processes and turns what they do into output chunks and
// results. Single-threaded: pump() is called from the agent's event loop.
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "muster/proto/messages.hpp"
#include "output_capture.hpp"
#include "platform/process.hpp"

namespace muster::agent {

class TaskRunner {
 public:
  using ChunkSink = std::function<void(const proto::OutputChunk&)>;
  using ResultSink = std::function<void(const proto::TaskResult&)>;

  // `task_user`: the account tasks run as when the agent is privileged,
  // unless a task is signed as_root.
  TaskRunner(ChunkSink on_chunk, ResultSink on_result, std::string task_user = {});

  // Starts the task; a task that cannot start produces a failed result at once.
  void start(const proto::Task& task);
  // From now on every task "succeeds" at once without a process (benchmarks).
  void use_builtin_noop() { builtin_noop_ = true; }
  bool running(const std::string& task_id) const { return tasks_.count(task_id) != 0; }
  // The running task's ChildProcess::tree_record() (empty if not running).
  std::string tree_record(const std::string& task_id) const;
  bool active() const { return !tasks_.empty(); }
  std::size_t size() const { return tasks_.size(); }
  // Reads output, enforces timeouts, reports finished tasks.
  void pump();
  // Kills the task's tree; it is reported as cancelled. False if not running.
  bool cancel(const std::string& task_id);
  // Kills every running task and reports each as failed with `reason`.
  void abort_all(const std::string& reason);

 private:
  struct Running {
    Running(proto::Task t, std::unique_ptr<platform::ChildProcess> c)
        : task(std::move(t)),
          child(std::move(c)),
          out(static_cast<std::size_t>(task.output_quota)),
          err(static_cast<std::size_t>(task.output_quota)) {}
    proto::Task task;
    std::unique_ptr<platform::ChildProcess> child;
    OutputCapture out;
    OutputCapture err;
    std::int64_t seq = 0;
    std::string partial[2];  // an incomplete UTF-8 sequence held back per stream
    double started_at = 0;
    std::chrono::steady_clock::time_point started;
    std::chrono::steady_clock::time_point deadline;
    std::optional<std::chrono::steady_clock::time_point> exited;  // main process gone
    std::optional<platform::ExitStatus> status;
    bool timed_out = false;
    bool cancelled = false;
  };

  void drain(Running& r);
  proto::TaskResult finish(Running& r, std::optional<std::string> error);

  std::string task_user_;
  bool builtin_noop_ = false;
  ChunkSink on_chunk_;
  ResultSink on_result_;
  std::map<std::string, std::unique_ptr<Running>> tasks_;
};

double unix_now();

}  // namespace muster::agent
