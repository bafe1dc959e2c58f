#include "journal.hpp"

#include <sstream>

#include "platform/fs.hpp"

namespace muster::agent {

Journal::Journal(std::string path) : path_(std::move(path)) {}

proto::Status Journal::load() {
  if (!platform::file_exists(path_)) return proto::Ok{};  // a fresh agent
  auto content = platform::read_file(path_);
  if (!content) return content.error();
  std::istringstream lines(*content);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string kind, task_id, job_id;
    words >> kind >> task_id >> job_id;
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
