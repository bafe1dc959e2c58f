#pragma once
// The agent's side of the shared logger (muster/proto/log.hpp): printf-style
// macros, and a log file with rotation for a service, which has no stderr.
#include <cstdarg>
#include <string>

#include "muster/proto/log.hpp"

namespace muster::agent {

using LogLevel = log::Level;

inline void set_log_level(LogLevel level) { log::set_level(level); }
inline bool parse_log_level(const char* text, LogLevel& out) { return log::parse_level(text, out); }
// From now on the log goes to `path` (appended) instead of stderr. Past 10
// MiB the file is renamed to `path`.1 (one older file is kept) and a new one
// started. False, and the log stays on stderr, if it cannot be opened.
bool log_to_file(const std::string& path);
void log_message(LogLevel level, const char* format, ...) __attribute__((format(printf, 2, 3)));

}  // namespace muster::agent

#define MUSTER_LOG(level, ...)                                                           \
  do {                                                                                   \
    if (::muster::log::enabled(level)) ::muster::agent::log_message(level, __VA_ARGS__); \
  } while (0)
#define LOG_ERROR(...) MUSTER_LOG(::muster::log::Level::error, __VA_ARGS__)
#define LOG_WARN(...) MUSTER_LOG(::muster::log::Level::warn, __VA_ARGS__)
#define LOG_INFO(...) MUSTER_LOG(::muster::log::Level::info, __VA_ARGS__)
#define LOG_DEBUG(...) MUSTER_LOG(::muster::log::Level::debug, __VA_ARGS__)
