#pragma once
#include "muster/version.hpp"

namespace muster::agent {
inline constexpr const char* kAgentVersion = muster::kVersion;
}
