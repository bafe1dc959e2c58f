#include "muster/proto/log.hpp"

#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>

#include "muster/proto/json.hpp"

namespace muster::log {
namespace {

constexpr const char* kLevelNames[] = {"error", "warn", "info", "debug"};
constexpr auto kSummaryEvery = std::chrono::seconds(30);

struct State {
  std::mutex mutex;
  std::string program = "muster";
  // Read without the lock: every debug() call asks it, on hot paths too.
  std::atomic<Level> level{Level::info};
  Format format = Format::text;
  Sink sink = nullptr;
  // The last line's identity (level, component, message, fields) and how
  // often it came again since it was written.
  std::string last_key;
  Level last_level = Level::info;
  std::string last_component, last_message;
  Fields last_fields;
  long repeats = 0;
  std::chrono::steady_clock::time_point last_written;
};

State& state() {
  static State s;
  return s;
}

// UTC from the epoch by arithmetic alone (no gmtime_r/gmtime_s, which differ
// by platform): the proleptic Gregorian calendar from a day count.
std::string utc_now() {
  const long long ms_total = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
  const long long seconds = ms_total / 1000;
  long long days = seconds / 86400;
  const long long in_day = seconds % 86400;
  days += 719468;
  const long long era = days / 146097;
  const long long doe = days - era * 146097;
  const long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const long long mp = (5 * doy + 2) / 153;
  const long long day = doy - (153 * mp + 2) / 5 + 1;
  const long long month = mp < 10 ? mp + 3 : mp - 9;
  const long long year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  char text[96];  // room for any value the compiler cannot rule out
  std::snprintf(text, sizeof text, "%04lld-%02lld-%02lldT%02lld:%02lld:%02lld.%03lldZ", year, month, day,
                in_day / 3600, in_day / 60 % 60, in_day % 60, ms_total % 1000);
  return text;
}

void emit(State& s, const std::string& line) {
  if (s.sink != nullptr) {
    s.sink(line);
  } else {
    std::fputs(line.c_str(), stderr);
    std::fflush(stderr);
  }
}

}  // namespace

void set_program(const char* name) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().program = name;
}

void set_level(Level level) { state().level = level; }

bool parse_level(const std::string& text, Level& out) {
  for (int i = 0; i < 4; ++i) {
    if (text == kLevelNames[i]) {
      out = static_cast<Level>(i);
      return true;
    }
  }
  return false;
}

bool enabled(Level level) { return level <= state().level.load(std::memory_order_relaxed); }

void set_format(Format format) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().format = format;
}

bool parse_format(const std::string& text, Format& out) {
  if (text == "text") {
    out = Format::text;
  } else if (text == "json") {
    out = Format::json;
  } else {
    return false;
  }
  return true;
}

void set_sink(Sink sink) {
  std::lock_guard<std::mutex> lock(state().mutex);
  state().sink = sink;
}

std::string format_line(Level level, const char* component, const std::string& message, const Fields& fields,
                        const std::string& time) {
  State& s = state();
  const char* level_name = kLevelNames[static_cast<int>(level)];
  if (s.format == Format::json) {
    proto::JsonBuilder b;
    b.add("time", time).add("level", level_name).add("program", s.program).add("component", component);
    b.add("message", message);
    for (const auto& [k, v] : fields) b.add(k.c_str(), v);
    return b.dump() + "\n";
  }
  std::string line = time + " " + s.program + " " + level_name + " " + component + ": " + message;
  for (const auto& [k, v] : fields) line += " " + k + "=" + v;
  return line + "\n";
}

void write(Level level, const char* component, const std::string& message, const Fields& fields) {
  State& s = state();
  if (!enabled(level)) return;
  std::lock_guard<std::mutex> lock(s.mutex);
  std::string key = std::to_string(static_cast<int>(level)) + '\x1f' + component + '\x1f' + message;
  for (const auto& [k, v] : fields) key += '\x1f' + k + '=' + v;
  const auto now = std::chrono::steady_clock::now();
  auto summary = [&] {
    Fields with_count = s.last_fields;
    with_count.emplace_back("repeated", std::to_string(s.repeats));
    emit(s, format_line(s.last_level, s.last_component.c_str(), s.last_message + " (repeated " +
                                                                     std::to_string(s.repeats) + " times)",
                        with_count, utc_now()));
    s.repeats = 0;
    s.last_written = now;
  };
  if (key == s.last_key) {
    ++s.repeats;
    if (now - s.last_written >= kSummaryEvery) summary();
    return;
  }
  if (s.repeats > 0) summary();
  emit(s, format_line(level, component, message, fields, utc_now()));
  s.last_key = std::move(key);
  s.last_level = level;
  s.last_component = component;
  s.last_message = message;
  s.last_fields = fields;
  s.last_written = now;
}

}  // namespace muster::log
