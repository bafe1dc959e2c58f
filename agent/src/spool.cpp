#include "spool.hpp"

#include "log.hpp"
#include "platform/fs.hpp"

namespace muster::agent {

Spool::Spool(std::string dir) : dir_(std::move(dir)) {}

std::string Spool::path_for(const std::string& task_id) const {
  return platform::join_path(dir_, task_id + ".json");
}

proto::Status Spool::load() {
  if (auto made = platform::make_private_dir(dir_); !made) return made;
  for (const auto& name : platform::list_files(dir_)) {
    const std::string path = platform::join_path(dir_, name);
    if (name.size() < 5 || name.compare(name.size() - 5, 5, ".json") != 0) {
      // A temporary file from a crash mid-write: put() had not returned, so
      // the result was never sent; the journal keeps the task from rerunning.
      LOG_WARN("removing incomplete spool file %s", path.c_str());
      (void)platform::remove_file(path);  // best effort; logged above
      continue;
    }
    auto content = platform::read_file(path);
    auto result = content ? proto::decode_task_result(*content) : proto::Result<proto::TaskResult>(content.error());
    if (!result) {
      // Damaged on disk: it can never be delivered, so keep it from blocking.
      LOG_WARN("dropping unreadable spool file %s: %s", path.c_str(), result.error().message.c_str());
      (void)platform::remove_file(path);  // best effort; logged above
      continue;
    }
    if (name != result->task_id + ".json") {
      LOG_WARN("removing spool file %s: it holds task %s", path.c_str(), result->task_id.c_str());
      (void)platform::remove_file(path);
      continue;
    }
    entries_[result->task_id] = Entry{*content, {}};
  }
  return proto::Ok{};
}

proto::Status Spool::put(const proto::TaskResult& result) {
  std::string payload = proto::encode(result);
  if (auto written = platform::write_file_atomic(path_for(result.task_id), payload, true); !written) return written;
  entries_[result.task_id] = Entry{std::move(payload), {}};
  return proto::Ok{};
}

void Spool::settle(const std::string& task_id) {
  auto it = entries_.find(task_id);
  if (it == entries_.end() || it->second.acknowledged) return;
  it->second.acknowledged = true;
  if (auto removed = platform::remove_file(path_for(task_id)); !removed) {
    LOG_WARN("%s", removed.error().message.c_str());
  }
}

void Spool::acknowledge(const std::string& task_id) {
  auto it = entries_.find(task_id);
  if (it == entries_.end()) return;
  const bool on_disk = !it->second.acknowledged;
  entries_.erase(it);
  if (!on_disk) return;
  if (auto removed = platform::remove_file(path_for(task_id)); !removed) {
    LOG_WARN("%s", removed.error().message.c_str());
  }
}

}  // namespace muster::agent
