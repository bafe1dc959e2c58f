#include "platform/posix/name_lookup.hpp"

namespace muster::agent::platform {

// A dynamically linked agent uses the system's NSS configuration as is.
void configure_name_lookup() {}

}  // namespace muster::agent::platform
