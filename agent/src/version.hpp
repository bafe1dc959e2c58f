#pragma once

namespace muster::agent {
inline constexpr const char* kAgentVersion = MUSTER_VERSION;
}
