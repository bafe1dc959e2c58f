#include "core/tasks.hpp"

#include <cstdio>

namespace muster::hub {

std::string format_time(double t) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", t);
  return text;
}

bool is_final_state(const std::string& state) {
  return state == "succeeded" || state == "failed" || state == "timed_out" || state == "cancelled" ||
         state == "expired" || state == "skipped";
}

}  // namespace muster::hub
