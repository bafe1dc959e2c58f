#include "run_view.hpp"

#include "display.hpp"
#include "errors.hpp"
#include "muster/proto/json.hpp"
#include "terminal.hpp"

namespace muster::cli {
namespace {

constexpr std::size_t kMaxOutputPerTask = std::size_t{1} << 20;  // the hub streams at most the head anyway
constexpr std::size_t kFailedHostsListed = 10;
constexpr auto kRedrawInterval = std::chrono::milliseconds(100);

const char* const kBold = "\033[1m";
const char* const kRed = "\033[31m";
const char* const kGreen = "\033[32m";
const char* const kDim = "\033[2m";

std::string words(std::string state) {  // "timed_out" -> "timed out"
  for (char& c : state) c = c == '_' ? ' ' : c;
  return state;
}

}  // namespace

ShowTasks chosen_show(const ParsedOptions& options) {
  const std::string text = options.value("--show", "all");
  if (text == "all") return ShowTasks::all;
  if (text == "failed") return ShowTasks::failed;
  if (text == "none") return ShowTasks::none;
  throw usage_error("--show takes all, failed or none, not \"" + text + "\"");
}

const OptionSpec& show_option() {
  static const OptionSpec spec{"--show", "all|failed|none",
                               "whose output to print as tasks end (default all; the summary always)"};
  return spec;
}

RunView::RunView(ViewMode mode, Hostnames hostnames, std::size_t total, std::FILE* out, std::FILE* err)
    : mode_(mode),
      hostnames_(std::move(hostnames)),
      out_(out),
      err_(err),
      colors_(mode == ViewMode::terminal && colors_wanted()),
      tally_(total) {}

double RunView::elapsed_s() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
}

std::string RunView::host(const std::string& agent_id) const { return host_or_id(hostnames_, agent_id); }

std::string RunView::paint(const char* color, const std::string& text) const {
  return colors_ ? color + text + "\033[0m" : text;
}

void RunView::json_line(const std::string& text) {
  std::fputs(text.c_str(), out_);
  std::fputc('\n', out_);
  std::fflush(out_);
}

void RunView::submitted(const std::string& job_id) {
  job_id_ = job_id;
  if (mode_ == ViewMode::json) {
    json_line(proto::JsonBuilder()
                  .add("event", "submitted")
                  .add("job_id", job_id)
                  .add("tasks", static_cast<std::int64_t>(tally_.total()))
                  .dump());
    return;
  }
  std::fprintf(out_, "job %s: %zu %s\n", job_id.c_str(), tally_.total(), tally_.total() == 1 ? "task" : "tasks");
  std::fflush(out_);
  draw_progress();
}

void RunView::event(const JobEvent& e) {
  if (e.kind == JobEvent::Kind::output) {
    TaskOutput& o = output_[e.agent_id];
    if (e.seq < o.next_seq) return;  // seen before a reconnect
    o.next_seq = e.seq + 1;
    if (mode_ == ViewMode::json) {
      json_line(proto::JsonBuilder()
                    .add("event", "output")
                    .add("agent_id", e.agent_id)
                    .add("hostname", host(e.agent_id))
                    .add("stream", e.stream)
                    .add("seq", e.seq)
                    .add("data", e.data)
                    .dump());
      return;
    }
    std::string& to = e.stream == "stderr" ? o.err : o.out;
    if (to.size() + e.data.size() <= kMaxOutputPerTask) to += e.data;
  } else if (e.kind == JobEvent::Kind::state) {
    const auto seen = tally_.states().find(e.agent_id);
    const bool repeated =  // replayed after a reconnect
        seen != tally_.states().end() && (seen->second == e.state || is_final_state(seen->second));
    const bool ended = tally_.record(e.agent_id, e.state);
    if (mode_ == ViewMode::json && !repeated) {
      json_line(proto::JsonBuilder()
                    .add("event", "state")
                    .add("agent_id", e.agent_id)
                    .add("hostname", host(e.agent_id))
                    .add("state", e.state)
                    .dump());
    } else if (ended) {
      task_ended(e.agent_id, e.state);
    }
    if (ended) output_.erase(e.agent_id);
  }
  tick();
}

void RunView::task_ended(const std::string& agent_id, const std::string& state) {
  const std::string name = host(agent_id);
  const bool succeeded = state == "succeeded";
  if (!succeeded && ++failed_listed_ <= kFailedHostsListed) {
    failed_hosts_ += (failed_hosts_.empty() ? "" : ", ") + name;
  }
  if (show_ == ShowTasks::none || (show_ == ShowTasks::failed && succeeded)) return;
  clear_progress();
  const TaskOutput& o = output_[agent_id];
  const std::string prefix = paint(kBold, name) + ": ";
  print_lines(out_, prefix, o.out);
  print_lines(err_, prefix, o.err);
  if (!succeeded) {
    std::fprintf(out_, "%s%s\n", prefix.c_str(), paint(kRed, "task " + words(state)).c_str());
  } else if (o.out.empty() && o.err.empty()) {
    std::fprintf(out_, "%s%s\n", prefix.c_str(), paint(kDim, "succeeded, no output").c_str());
  }
  std::fflush(out_);
  draw_progress();
}

void RunView::print_lines(std::FILE* to, const std::string& prefix, const std::string& text) {
  if (text.empty()) return;
  std::fflush(out_);  // keeps stdout and stderr lines in order on one terminal
  print_prefixed(to, prefix, text);
  std::fflush(to);
}

void RunView::clear_progress() {
  if (!progress_shown_) return;
  std::fputs("\r\033[K", out_);
  progress_shown_ = false;
}

void RunView::draw_progress() {
  if (mode_ != ViewMode::terminal) return;
  const std::size_t width = terminal_width();
  const std::string line = format_progress(tally_, elapsed_s(), width > 1 ? width - 1 : 0);
  std::fprintf(out_, "\r\033[K%s", paint(kDim, line).c_str());
  std::fflush(out_);
  progress_shown_ = true;
  drawn_at_ = std::chrono::steady_clock::now();
}

void RunView::tick() {
  if (mode_ == ViewMode::terminal && std::chrono::steady_clock::now() - drawn_at_ >= kRedrawInterval) {
    draw_progress();
  }
}

void RunView::note(const std::string& text) {
  hold();
  std::fprintf(err_, "muster: %s\n", text.c_str());
  std::fflush(err_);
}

void RunView::hold() {
  clear_progress();
  std::fflush(out_);
}

void RunView::result(cJSON* task) {
  if (mode_ != ViewMode::json) return;
  const cJSON* agent = cJSON_GetObjectItemCaseSensitive(task, "agent_id");
  const std::string name = cJSON_IsString(agent) ? host(agent->valuestring) : "";
  cJSON_AddItemToObject(task, "hostname", cJSON_CreateString(name.c_str()));
  cJSON_AddItemToObject(task, "event", cJSON_CreateString("result"));
  json_line(proto::dump(task));
}

void RunView::finish(const cJSON* job) {
  const cJSON* state = cJSON_GetObjectItemCaseSensitive(job, "state");
  const std::string job_state = cJSON_IsString(state) ? state->valuestring : "unknown";
  if (mode_ == ViewMode::json) {
    proto::JsonBuilder end;
    end.add("event", "end").add("job_id", job_id_).add("state", job_state).add("elapsed_s", elapsed_s());
    end.add_node("job", proto::JsonPtr(cJSON_Duplicate(job, true)));
    json_line(end.dump());
    return;
  }
  clear_progress();
  // The job's own counts are the truth; the events only approximate them.
  StateCounts counts = tally_.counts();
  std::size_t total = tally_.total();
  if (const cJSON* c = cJSON_GetObjectItemCaseSensitive(job, "counts"); cJSON_IsObject(c)) {
    counts.clear();
    for (const cJSON* n = c->child; n != nullptr; n = n->next) {
      if (cJSON_IsNumber(n) && n->valuedouble >= 0) counts[n->string] = static_cast<std::size_t>(n->valuedouble);
    }
  }
  if (const cJSON* t = cJSON_GetObjectItemCaseSensitive(job, "total"); cJSON_IsNumber(t) && t->valuedouble >= 0) {
    total = static_cast<std::size_t>(t->valuedouble);
  }
  const bool ok = job_state == "succeeded";
  std::fprintf(out_, "%s\n", paint(ok ? kGreen : kRed, format_summary(counts, total, elapsed_s())).c_str());
  if (failed_listed_ > 0) {
    std::string more = failed_listed_ > kFailedHostsListed
                           ? " and " + std::to_string(failed_listed_ - kFailedHostsListed) + " more"
                           : "";
    std::fprintf(out_, "not succeeded: %s%s (details: muster job %s)\n", failed_hosts_.c_str(), more.c_str(),
                 job_id_.c_str());
  }
  std::fprintf(out_, "job %s %s\n", job_id_.c_str(), words(job_state).c_str());
  std::fflush(out_);
}

}  // namespace muster::cli
