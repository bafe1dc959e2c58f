#include "progress.hpp"

#include <cmath>
#include <cstdio>

namespace muster::cli {
namespace {

// The order the summary names final states in.
const char* const kFinalStates[] = {"succeeded", "failed", "timed_out", "cancelled", "expired", "skipped"};

std::string fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof text, "%.*f", decimals, value);
  return text;
}

}  // namespace

bool is_final_state(const std::string& state) {
  for (const char* s : kFinalStates) {
    if (state == s) return true;
  }
  return false;
}

bool JobTally::record(const std::string& agent_id, const std::string& state) {
  auto it = state_of_.emplace(agent_id, "pending").first;
  const std::string previous = it->second;
  if (previous == state || is_final_state(previous)) return false;  // a final state never changes
  if (previous != "pending") --counts_[previous];
  it->second = state;
  if (state != "pending") ++counts_[state];
  if (!is_final_state(state)) return false;
  ++done_;
  return true;
}

std::size_t JobTally::count(const std::string& state) const {
  const auto it = counts_.find(state);
  return it == counts_.end() ? 0 : it->second;
}

std::string format_duration(double seconds) {
  if (!(seconds >= 0)) seconds = 0;
  if (seconds < 10) return fixed(seconds, 1) + "s";
  const auto whole = static_cast<long>(std::lround(seconds));
  char text[32];
  if (whole < 60) {
    std::snprintf(text, sizeof text, "%lds", whole);
  } else if (whole < 3600) {
    std::snprintf(text, sizeof text, "%ldm%02lds", whole / 60, whole % 60);
  } else {
    std::snprintf(text, sizeof text, "%ldh%02ldm", whole / 3600, whole % 3600 / 60);
  }
  return text;
}

std::string format_progress(const JobTally& t, double elapsed_s, std::size_t width) {
  std::string line = std::to_string(t.done()) + "/" + std::to_string(t.total()) + " done  " +
                     std::to_string(t.succeeded()) + " ok  " + std::to_string(t.unsuccessful()) + " failed  " +
                     std::to_string(t.running()) + " running";
  if (t.done() > 0 && elapsed_s > 0) {
    const double rate = static_cast<double>(t.done()) / elapsed_s;
    line += "  " + fixed(rate, rate < 10 ? 1 : 0) + "/s";
    if (t.done() < t.total()) {
      line += "  ETA " + format_duration(static_cast<double>(t.total() - t.done()) / rate);
    }
  }
  line += "  " + format_duration(elapsed_s);
  if (width > 0 && line.size() > width) line.resize(width);
  return line;
}

std::string format_summary(const StateCounts& counts, std::size_t total, double elapsed_s) {
  std::string parts;
  std::size_t done = 0;
  for (const char* state : kFinalStates) {
    const auto it = counts.find(state);
    if (it == counts.end() || it->second == 0) continue;
    parts += (parts.empty() ? "" : ", ") + std::to_string(it->second) + " " + state;
    done += it->second;
  }
  if (done < total) parts += (parts.empty() ? "" : ", ") + std::to_string(total - done) + " not finished";
  return std::to_string(total) + (total == 1 ? " task: " : " tasks: ") + parts + " in " + format_duration(elapsed_s);
}

}  // namespace muster::cli
