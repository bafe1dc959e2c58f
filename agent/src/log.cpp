#include "log.hpp"

#include <cstdio>
#include <cstring>
#include <ctime>
#include <mutex>

#include "platform/fs.hpp"

namespace muster::agent {
namespace {
LogLevel g_level = LogLevel::info;
constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
constexpr long kRotateBytes = 10L * 1024 * 1024;
// A Windows service also logs from the SCM's control handler thread.
std::mutex g_file_lock;
std::FILE* g_file = nullptr;  // null: stderr
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
}  // namespace

bool log_to_file(const std::string& path) {
  std::FILE* file = platform::open_append(path);
  if (file == nullptr) return false;
  std::lock_guard<std::mutex> hold(g_file_lock);
  if (g_file != nullptr) std::fclose(g_file);
  g_file = file;
  g_path = path;
  std::fseek(g_file, 0, SEEK_END);
  rotate_if_big();
  return g_file != nullptr;
}

void set_log_level(LogLevel level) { g_level = level; }

bool parse_log_level(const char* text, LogLevel& out) {
  for (int i = 0; i < 4; ++i) {
    if (std::strcmp(text, kNames[i]) == 0) {
      out = static_cast<LogLevel>(i);
      return true;
    }
  }
  return false;
}

bool log_enabled(LogLevel level) { return level <= g_level; }

void log_message(LogLevel level, const char* format, ...) {
  char when[32];
  const std::time_t now = std::time(nullptr);
  std::tm tm_utc{};
  gmtime_r(&now, &tm_utc);
  std::strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm_utc);
  char text[2048];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  std::lock_guard<std::mutex> hold(g_file_lock);
  std::FILE* out = g_file != nullptr ? g_file : stderr;
  std::fprintf(out, "%s muster-agent %s: %s\n", when, kNames[static_cast<int>(level)], text);
  if (g_file != nullptr) {
    std::fflush(g_file);
    rotate_if_big();
  }
}

}  // namespace muster::agent
