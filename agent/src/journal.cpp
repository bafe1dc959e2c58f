#include "journal.hpp"

#include "platform/fs.hpp"

namespace muster::agent {

Journal::Journal(std::string path) : path_(std::move(path)) {}

proto::Status Journal::load() {
  if (!platform::file_exists(path_)) return proto::Ok{};  // a fresh agent
  auto content = platform::read_file(path_);
  if (!content) return content.error();
  std::size_t start = 0;
  while (start < content->size()) {
    std::size_t end = content->find('\n', start);
    if (end == std::string::npos) end = content->size();  // torn last line: still counts
    if (end > start) ids_.insert(content->substr(start, end - start));
    start = end + 1;
  }
  return proto::Ok{};
}

proto::Status Journal::record(const std::string& task_id) {
  auto status = platform::append_line_durable(path_, task_id);
  if (status) ids_.insert(task_id);
  return status;
}

}  // namespace muster::agent
