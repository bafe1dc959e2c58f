#include "journal.hpp"

#include <cstdio>
#include <cstdlib>
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
    } else if (kind == "tree" && !task_id.empty() && !job_id.empty()) {
      // The third word is the tree record here; the fourth its start time.
      const std::string started = next_word();
      char* end = nullptr;
      const double at = std::strtod(started.c_str(), &end);
      trees_[task_id] = {job_id, end != started.c_str() && at > 0 ? at : 0};
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

proto::Status Journal::record_tree(const std::string& task_id, const std::string& tree_record, double started_at) {
  if (tree_record.empty()) return proto::Ok{};
  std::FILE* f = platform::open_append(path_);
  if (f == nullptr) return proto::Error{proto::ErrorCode::io, "cannot open " + path_};
  char started[32];
  std::snprintf(started, sizeof started, "%.3f", started_at);
  const std::string line = "tree " + task_id + " " + tree_record + " " + started + "\n";
  const bool ok = std::fputs(line.c_str(), f) >= 0;
  if (std::fclose(f) != 0 || !ok) return proto::Error{proto::ErrorCode::io, "cannot append to " + path_};
  trees_[task_id] = {tree_record, started_at};
  return proto::Ok{};
}

proto::Status Journal::record_done(const std::string& task_id) {
  auto status = platform::append_line_durable(path_, "done " + task_id);
  if (status) done_.insert(task_id);
  return status;
}

std::vector<Journal::Interrupted> Journal::interrupted() const {
  std::vector<Interrupted> out;
  for (const auto& [task_id, job_id] : started_) {
    if (done_.count(task_id) != 0) continue;
    auto tree = trees_.find(task_id);
    if (tree == trees_.end()) {
      out.push_back({task_id, job_id, {}, 0});
    } else {
      out.push_back({task_id, job_id, tree->second.first, tree->second.second});
    }
  }
  return out;
}

}  // namespace muster::agent
