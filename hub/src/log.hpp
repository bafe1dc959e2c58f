#pragma once
// The hub's operational log on stderr: one line per event, with a UTC time
// stamp (milliseconds) and the component, and a line repeated back to back
// (the same store error every second during an outage) written once, then
// counted: "... (repeated N times)" when something else is said, or every
// 30 s while it goes on.
#include <string>

namespace muster::hub {

void log_line(const char* component, const std::string& message);

}  // namespace muster::hub
