#include "journal.hpp"

#include <string_view>

#include "platform/fs.hpp"

namespace muster::agent {

Journal::Journal(std::string path) : path_(std::move(path)) {}

proto::Status Journal::load() {
  if (!platform::file_exists(path_)) return proto::Ok{};  // a fresh agent
  auto content = platform::read_file(path_);
  if (!content) return content.error();
  // Lines of blank-separated words: "start TASK JOB" or "done TASK". No
  // iostreams: they would link the whole std::locale machinery into the
  // static agent.
  std::string_view rest = *content;
  while (!rest.empty()) {
    const auto eol = rest.find('\n');
    std::string_view line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view{} : rest.substr(eol + 1);
    const auto next_word = [&line]() {
      constexpr std::string_view kBlanks = " \t\r\v\f";
      const auto start = line.find_first_not_of(kBlanks);
      if (start == std::string_view::npos) return std::string{};
      const auto end = line.find_first_of(kBlanks, start);
      std::string word(line.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
      line = end == std::string_view::npos ? std::string_view{} : line.substr(end);
      return word;
    };
    const std::string kind = next_word();
    const std::string task_id = next_word();
    const std::string job_id = next_word();
    // A torn last line still names its task: treat it as started.
    if (kind == "start" && !task_id.empty()) {
      started_[task_id] = job_id;
    } else if (kind == "done" && !task_id.empty()) {
      done_.insert(task_id);
    }
  }
  return proto::Ok{};
}

proto::Status Journal::record_start(const std::string& task_id, const std::string& job_id) {
  auto status = platform::append_line_durable(path_, "start " + task_id + " " + job_id);
  if (status) started_[task_id] = job_id;
  return status;
}

proto::Status Journal::record_done(const std::string& task_id) {
  auto status = platform::append_line_durable(path_, "done " + task_id);
  if (status) done_.insert(task_id);
  return status;
}

std::vector<Journal::Interrupted> Journal::interrupted() const {
  std::vector<Interrupted> out;
  for (const auto& [task_id, job_id] : started_) {
    if (done_.count(task_id) == 0) out.push_back({task_id, job_id});
  }
  return out;
}

}  // namespace muster::agent
