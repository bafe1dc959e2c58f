#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "platform/fs.hpp"

namespace muster::agent::platform {
namespace {

using proto::Error;
using proto::ErrorCode;

Error io_error(const std::string& what, const std::string& path) {
  return Error{ErrorCode::io, what + " " + path + ": " + std::strerror(errno)};
}

bool write_all(int fd, const std::string& content) {
  std::size_t off = 0;
  while (off < content.size()) {
    const ssize_t n = ::write(fd, content.data() + off, content.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    off += static_cast<std::size_t>(n);
  }
  return true;
}

// A rename or a new file is durable only once its directory is flushed too.
void sync_parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return;
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

std::string join_path(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

proto::Status make_private_dir(const std::string& path) {
  std::string partial;
  std::size_t pos = 0;
  while (pos != std::string::npos) {
    pos = path.find('/', pos + 1);
    partial = path.substr(0, pos);
    if (partial.empty()) continue;
    if (::mkdir(partial.c_str(), 0700) != 0 && errno != EEXIST) return io_error("cannot create", partial);
  }
  if (::chmod(path.c_str(), 0700) != 0) return io_error("cannot chmod", path);
  return proto::Ok{};
}

proto::Status write_file_atomic(const std::string& path, const std::string& content, bool private_file) {
  const std::string tmp = path + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, private_file ? 0600 : 0644);
  if (fd < 0) return io_error("cannot create", tmp);
  const bool ok = write_all(fd, content) && ::fsync(fd) == 0;
  const Error failure = io_error("cannot write", tmp);
  ::close(fd);
  if (!ok) return failure;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return io_error("cannot rename to", path);
  sync_parent_dir(path);
  return proto::Ok{};
}

proto::Result<std::string> read_file(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return io_error("cannot open", path);
  std::string content;
  char buffer[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const Error e = io_error("cannot read", path);
      ::close(fd);
      return e;
    }
    if (n == 0) break;
    content.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  return content;
}

proto::Status append_line_durable(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (fd < 0) return io_error("cannot open", path);
  const bool ok = write_all(fd, line + "\n") && ::fdatasync(fd) == 0;
  const Error failure = io_error("cannot append to", path);
  ::close(fd);
  if (!ok) return failure;
  return proto::Ok{};
}

proto::Status remove_file(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return io_error("cannot remove", path);
  return proto::Ok{};
}

proto::Status rename_file(const std::string& from, const std::string& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) return io_error("cannot rename to", to);
  return proto::Ok{};
}

std::FILE* open_append(const std::string& path) { return std::fopen(path.c_str(), "ae"); }  // e: O_CLOEXEC

bool file_exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

std::vector<std::string> list_files(const std::string& dir) {
  std::vector<std::string> names;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return names;
  while (const dirent* entry = ::readdir(d)) {
    if (entry->d_type == DT_REG) {
      names.emplace_back(entry->d_name);
    } else if (entry->d_type == DT_UNKNOWN) {
      struct stat st {};
      if (::stat(join_path(dir, entry->d_name).c_str(), &st) == 0 && S_ISREG(st.st_mode)) names.emplace_back(entry->d_name);
    }
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace muster::agent::platform
