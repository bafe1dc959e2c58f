#include "task_runner.hpp"

#include "log.hpp"
#include "muster/proto/text.hpp"

namespace muster::agent {
namespace {
using Clock = std::chrono::steady_clock;
// After the main process exits, descendants that left the process group may
// hold the pipes open; stop waiting for end of file after this long.
constexpr auto kOutputGrace = std::chrono::milliseconds(200);
}  // namespace

double unix_now() {
  using namespace std::chrono;
  return static_cast<double>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count()) / 1e6;
}

TaskRunner::TaskRunner(ChunkSink on_chunk, ResultSink on_result, std::string task_user)
    : task_user_(std::move(task_user)), on_chunk_(std::move(on_chunk)), on_result_(std::move(on_result)) {}

std::string TaskRunner::tree_record(const std::string& task_id) const {
  auto it = tasks_.find(task_id);
  return it == tasks_.end() ? std::string{} : it->second->child->tree_record();
}

void TaskRunner::start(const proto::Task& task) {
  if (builtin_noop_) {
    proto::TaskResult result;
    result.task_id = task.task_id;
    result.job_id = task.job_id;
    result.state = proto::TaskOutcome::succeeded;
    result.exit_code = 0;
    result.started_at = unix_now();
    result.finished_at = result.started_at;
    on_result_(result);
    return;
  }
  platform::ProcessSpec spec;
  spec.shell_command = task.command;
  spec.argv = task.argv;
  if (!task.as_root) spec.run_as_user = task_user_;
  const double started_at = unix_now();
  auto child = platform::start_process(spec);
  if (!child) {
    proto::TaskResult result;
    result.task_id = task.task_id;
    result.job_id = task.job_id;
    result.state = proto::TaskOutcome::failed;
    result.error = child.error().message;
    result.started_at = started_at;
    result.finished_at = unix_now();
    LOG_WARN("task %s could not start: %s", task.task_id.c_str(), child.error().message.c_str());
    on_result_(result);
    return;
  }
  auto r = std::make_unique<Running>(task, std::move(*child));
  r->started_at = started_at;
  r->started = Clock::now();
  r->deadline = r->started + std::chrono::seconds(task.timeout_s);
  LOG_INFO("task %s started (job %s)", task.task_id.c_str(), task.job_id.c_str());
  tasks_.emplace(task.task_id, std::move(r));
}

namespace {

// Length of the prefix of `bytes` that does not end inside a UTF-8 sequence,
// so a character split across two reads is streamed whole, not as two U+FFFD.
std::size_t complete_utf8_prefix(std::string_view bytes) {
  const std::size_t n = bytes.size();
  for (std::size_t back = 1; back <= 3 && back <= n; ++back) {
    const auto c = static_cast<unsigned char>(bytes[n - back]);
    if ((c & 0xC0u) == 0x80u) continue;  // continuation byte: look further back
    const std::size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    return need > back ? n - back : n;
  }
  return n;
}

// Bytes the result will take in its stanza: JSON plus XML escaping.
std::size_t stanza_estimate(const std::string& json) {
  std::size_t n = json.size() + 512;
  for (char c : json) {
    if (c == '<' || c == '>' || c == '&' || c == '"' || c == '\'') n += 5;
  }
  return n;
}

// Drops more of the middle of the larger stream until the result fits in one
// stanza, so that it is always deliverable; the drop is counted.
void fit_in_stanza(proto::TaskResult& result) {
  while (stanza_estimate(proto::encode(result)) > proto::kMaxResultStanzaBytes) {
    const bool out = result.stdout_text.size() >= result.stderr_text.size();
    std::string& text = out ? result.stdout_text : result.stderr_text;
    if (text.empty()) return;
    const std::size_t keep = text.size() / 4;
    const std::size_t removed = text.size() - 2 * keep;
    text = proto::to_xml_safe_utf8(text.substr(0, keep) + text.substr(text.size() - keep));
    (out ? result.stdout_dropped : result.stderr_dropped) += static_cast<std::int64_t>(removed);
  }
}

}  // namespace

void TaskRunner::drain(Running& r) {
  r.child->read_available([&](platform::OutputStream stream, std::string_view data) {
    const int index = stream == platform::OutputStream::out ? 0 : 1;
    OutputCapture& capture = index == 0 ? r.out : r.err;
    std::string live = r.partial[index];
    live.append(capture.append(data));
    const std::size_t complete = complete_utf8_prefix(live);
    r.partial[index] = live.substr(complete);
    std::string_view rest(live.data(), complete);
    while (!rest.empty()) {
      std::size_t size = std::min(rest.size(), proto::kMaxOutputChunkBytes);
      if (size < rest.size()) size = complete_utf8_prefix(rest.substr(0, size));
      if (size == 0) size = std::min(rest.size(), proto::kMaxOutputChunkBytes);
      proto::OutputChunk chunk;
      chunk.task_id = r.task.task_id;
      chunk.job_id = r.task.job_id;
      chunk.stream = index == 0 ? proto::Stream::stdout_stream : proto::Stream::stderr_stream;
      chunk.seq = r.seq++;
      chunk.data = proto::to_xml_safe_utf8(rest.substr(0, size));
      rest.remove_prefix(size);
      on_chunk_(chunk);
    }
  });
}

proto::TaskResult TaskRunner::finish(Running& r, std::optional<std::string> error) {
  proto::TaskResult result;
  result.task_id = r.task.task_id;
  result.job_id = r.task.job_id;
  result.started_at = r.started_at;
  result.finished_at = unix_now();
  result.duration_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - r.started).count();
  result.stdout_text = proto::to_xml_safe_utf8(r.out.text());
  result.stderr_text = proto::to_xml_safe_utf8(r.err.text());
  result.stdout_dropped = static_cast<std::int64_t>(r.out.dropped());
  result.stderr_dropped = static_cast<std::int64_t>(r.err.dropped());
  if (r.status) {
    result.exit_code = r.status->exit_code;
    result.signal = r.status->signal;
  }
  if (r.cancelled) {
    result.state = proto::TaskOutcome::cancelled;
    result.error = "cancelled while running; its process tree was killed";
  } else if (r.timed_out) {
    result.state = proto::TaskOutcome::timed_out;
    result.error = "killed after the timeout of " + std::to_string(r.task.timeout_s) + " s";
  } else if (error) {
    result.state = proto::TaskOutcome::failed;
    result.error = std::move(error);
  } else {
    result.state = result.exit_code == 0 ? proto::TaskOutcome::succeeded : proto::TaskOutcome::failed;
  }
  fit_in_stanza(result);
  return result;
}

void TaskRunner::pump() {
  platform::reap_orphans();
  const auto now = Clock::now();
  for (auto it = tasks_.begin(); it != tasks_.end();) {
    Running& r = *it->second;
    drain(r);
    if (!r.exited) {
      if (auto status = r.child->try_wait()) {
        r.status = status;
        r.exited = now;
        // The task is over when its main process is: nothing of its tree
        // may outlive it.
        r.child->kill_tree();
      } else if (now >= r.deadline && !r.timed_out) {
        r.timed_out = true;
        r.child->kill_tree();
      }
    }
    const bool done = r.exited && (r.child->output_closed() || now - *r.exited >= kOutputGrace);
    if (!done) {
      ++it;
      continue;
    }
    drain(r);
    r.child->close_output();
    proto::TaskResult result = finish(r, std::nullopt);
    LOG_INFO("task %s %s (exit %s, %lld ms)", result.task_id.c_str(), proto::to_string(result.state),
             result.exit_code ? std::to_string(*result.exit_code).c_str() : "-",
             static_cast<long long>(result.duration_ms));
    it = tasks_.erase(it);
    on_result_(result);
  }
}

bool TaskRunner::cancel(const std::string& task_id) {
  auto it = tasks_.find(task_id);
  if (it == tasks_.end()) return false;
  it->second->cancelled = true;
  it->second->child->kill_tree();
  return true;
}

void TaskRunner::abort_all(const std::string& reason) {
  for (auto& [id, r] : tasks_) {
    r->child->kill_tree();
    drain(*r);
    on_result_(finish(*r, reason));
  }
  tasks_.clear();
}

}  // namespace muster::agent
