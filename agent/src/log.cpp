#include "log.hpp"

#include <cstdio>
#include <mutex>

#include "platform/fs.hpp"

namespace muster::agent {
namespace {

constexpr long kRotateBytes = 10L * 1024 * 1024;
// The logger calls the sink under its own lock; this one guards the file
// against log_to_file() from another thread (a Windows service's control
// handler).
std::mutex g_file_lock;
std::FILE* g_file = nullptr;
std::string g_path;

// Starts a new file once the current one is past kRotateBytes.
void rotate_if_big() {
  if (g_file == nullptr || std::ftell(g_file) < kRotateBytes) return;
  std::fclose(g_file);
  g_file = nullptr;
  const auto renamed = platform::rename_file(g_path, g_path + ".1");
  g_file = platform::open_append(g_path);
  if (g_file != nullptr && !renamed) {
    std::fprintf(g_file, "(could not keep the previous log: %s)\n", renamed.error().message.c_str());
  }
}

void file_sink(const std::string& line) {
  std::lock_guard<std::mutex> hold(g_file_lock);
  if (g_file == nullptr) {
    std::fputs(line.c_str(), stderr);
    return;
  }
  std::fputs(line.c_str(), g_file);
  std::fflush(g_file);
  rotate_if_big();
}

}  // namespace

bool log_to_file(const std::string& path) {
  std::FILE* file = platform::open_append(path);
  if (file == nullptr) return false;
  {
    std::lock_guard<std::mutex> hold(g_file_lock);
    if (g_file != nullptr) std::fclose(g_file);
    g_file = file;
    g_path = path;
    std::fseek(g_file, 0, SEEK_END);
    rotate_if_big();
  }
  log::set_sink(file_sink);
  return true;
}

void log_message(LogLevel level, const char* format, ...) {
  char text[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  log::write(level, "agent", text);
}

}  // namespace muster::agent
