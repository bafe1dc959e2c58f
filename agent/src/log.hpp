#pragma once
// Leveled operational log on stderr. Job output never goes here.
#include <cstdarg>

namespace muster::agent {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

void set_log_level(LogLevel level);
bool parse_log_level(const char* text, LogLevel& out);
bool log_enabled(LogLevel level);
void log_message(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace muster::agent

#define MUSTER_LOG(level, ...)                                                              \
  do {                                                                                      \
    if (::muster::agent::log_enabled(level)) ::muster::agent::log_message(level, __VA_ARGS__); \
  } while (0)
#define LOG_ERROR(...) MUSTER_LOG(::muster::agent::LogLevel::error, __VA_ARGS__)
#define LOG_WARN(...) MUSTER_LOG(::muster::agent::LogLevel::warn, __VA_ARGS__)
#define LOG_INFO(...) MUSTER_LOG(::muster::agent::LogLevel::info, __VA_ARGS__)
#define LOG_DEBUG(...) MUSTER_LOG(::muster::agent::LogLevel::debug, __VA_ARGS__)
