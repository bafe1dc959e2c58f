#pragma once
// What `muster run` shows while a job runs, in one of three forms:
//  - terminal: a progress line redrawn in place, each task's output printed
//    (prefixed by its host name) as the task ends, then a summary;
//  - plain (stdout is not a terminal): the same without the progress line
//    and without escape codes;
//  - json: one JSON object a line for every event, result and the end.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "job_events.hpp"
#include "options.hpp"
#include "progress.hpp"
#include "queries.hpp"

namespace muster::cli {

enum class ViewMode { terminal, plain, json };
// Whose output the terminal and plain views print as tasks end (--show):
// with thousands of hosts, the output of the ones that failed is what matters.
enum class ShowTasks { all, failed, none };
const OptionSpec& show_option();
// The --show choice; throws CliError(kExitUsage) for an unknown one.
ShowTasks chosen_show(const ParsedOptions& options);

class RunView {
 public:
  RunView(ViewMode mode, Hostnames hostnames, std::size_t total, std::FILE* out = stdout, std::FILE* err = stderr);

  void show(ShowTasks which) { show_ = which; }
  void submitted(const std::string& job_id);
  void event(const JobEvent& e);
  // Redraws the progress line (terminal), at most every 100 ms.
  void tick();
  // A remark of the command itself (reconnecting, cancelling) on stderr.
  // The progress line comes back at the next tick.
  void note(const std::string& text);
  // Takes the progress line away until the next tick (before a question).
  void hold();
  // json: one task of GET /api/v1/jobs/{id}/tasks, with its host name added.
  void result(cJSON* task);
  // The summary; `job` is GET /api/v1/jobs/{id}.
  void finish(const cJSON* job);

  const JobTally& tally() const { return tally_; }
  double elapsed_s() const;

 private:
  struct TaskOutput {
    std::string out, err;
    std::int64_t next_seq = 0;
  };
  std::string host(const std::string& agent_id) const;
  void task_ended(const std::string& agent_id, const std::string& state);
  void print_lines(std::FILE* to, const std::string& prefix, const std::string& text);
  void clear_progress();
  void draw_progress();
  void json_line(const std::string& text);
  std::string paint(const char* color, const std::string& text) const;

  ViewMode mode_;
  Hostnames hostnames_;
  std::FILE* out_;
  std::FILE* err_;
  bool colors_ = false;
  JobTally tally_;
  std::map<std::string, TaskOutput> output_;  // of tasks not yet ended
  std::string job_id_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point drawn_at_{};
  bool progress_shown_ = false;
  ShowTasks show_ = ShowTasks::all;
  std::size_t failed_listed_ = 0;
  std::string failed_hosts_;
};

}  // namespace muster::cli
