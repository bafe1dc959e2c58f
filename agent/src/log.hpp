#pragma once
// Leveled operational log on stderr (or a file, for a service). Job output
// never goes here.
#include <cstdarg>
#include <string>

namespace muster::agent {

enum class LogLevel { error = 0, warn = 1, info = 2, debug = 3 };

void set_log_level(LogLevel level);
bool parse_log_level(const char* text, LogLevel& out);
bool log_enabled(LogLevel level);
// From now on the log goes to `path` (appended) instead of stderr: a
// service has no stderr. Past 10 MiB the file is renamed to `path`.1 (one
// older file is kept) and a new one started. False, and the log stays on
// stderr, if it cannot be opened.
bool log_to_file(const std::string& path);
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
