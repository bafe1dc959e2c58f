#pragma once
#include "muster/proto/messages.hpp"

namespace muster::agent::platform {

// Host name, OS, architecture and kernel of this machine.
proto::Facts collect_facts();

}  // namespace muster::agent::platform
