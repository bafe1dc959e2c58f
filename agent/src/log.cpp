#include "log.hpp"

#include <cstdio>
#include <cstring>
#include <ctime>

namespace muster::agent {
namespace {
LogLevel g_level = LogLevel::info;
constexpr const char* kNames[] = {"error", "warn", "info", "debug"};
}  // namespace

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
  std::fprintf(stderr, "%s muster-agent %s: %s\n", when, kNames[static_cast<int>(level)], text);
}

}  // namespace muster::agent
