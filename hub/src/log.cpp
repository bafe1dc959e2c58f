#include "log.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

namespace muster::hub {
namespace {

std::string utc_now() {
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char date[32];
  std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%S", &tm);
  char text[48];
  std::snprintf(text, sizeof text, "%s.%03dZ", date, static_cast<int>(ms));
  return text;
}

struct Repeats {
  std::mutex mutex;
  std::string last;  // component and message of the last line written
  long count = 0;    // times it came again since
  std::chrono::steady_clock::time_point since;
};

Repeats& repeats() {
  static Repeats r;
  return r;
}

void write(const std::string& line) { std::fprintf(stderr, "%s %s\n", utc_now().c_str(), line.c_str()); }

}  // namespace

void log_line(const char* component, const std::string& message) {
  constexpr auto kSummaryEvery = std::chrono::seconds(30);
  const std::string line = std::string("muster-hub ") + component + ": " + message;
  Repeats& r = repeats();
  std::lock_guard<std::mutex> lock(r.mutex);
  const auto now = std::chrono::steady_clock::now();
  if (line == r.last) {
    ++r.count;
    if (now - r.since < kSummaryEvery) return;
    write(line + " (repeated " + std::to_string(r.count) + " times)");
    r.count = 0;
    r.since = now;
    return;
  }
  if (r.count > 0) write(r.last + " (repeated " + std::to_string(r.count) + " times)");
  write(line);
  r.last = line;
  r.count = 0;
  r.since = now;
  std::fflush(stderr);
}

}  // namespace muster::hub
