#pragma once
// The operational log of the agent and the hub (one logger for both; it
// lives in proto because both link proto). One line per event: time (UTC,
// milliseconds), level, program, component, message and optional fields,
// as text or as one JSON object a line (--log-format json, what log
// collectors read). A line repeated back to back (the same store error every
// second during an outage) is written once, then counted: "(repeated N
// times)" when something else is said, or every 30 s while it goes on.
// Job output never goes here. Thread-safe.
#include <string>
#include <utility>
#include <vector>

namespace muster::log {

enum class Level { error = 0, warn = 1, info = 2, debug = 3 };
enum class Format { text, json };
using Fields = std::vector<std::pair<std::string, std::string>>;
// Where finished lines go (each with its newline); default: stderr.
using Sink = void (*)(const std::string& line);

void set_program(const char* name);  // e.g. "muster-hub"
void set_level(Level level);
bool parse_level(const std::string& text, Level& out);
bool enabled(Level level);
void set_format(Format format);
bool parse_format(const std::string& text, Format& out);
void set_sink(Sink sink);

void write(Level level, const char* component, const std::string& message, const Fields& fields = {});
inline void error(const char* component, const std::string& message, const Fields& fields = {}) {
  write(Level::error, component, message, fields);
}
inline void warn(const char* component, const std::string& message, const Fields& fields = {}) {
  write(Level::warn, component, message, fields);
}
inline void info(const char* component, const std::string& message, const Fields& fields = {}) {
  write(Level::info, component, message, fields);
}
inline void debug(const char* component, const std::string& message, const Fields& fields = {}) {
  write(Level::debug, component, message, fields);
}

// The line write() would emit, without the repeat check (for tests).
std::string format_line(Level level, const char* component, const std::string& message, const Fields& fields,
                        const std::string& time);

}  // namespace muster::log
