#pragma once
// How host names are resolved; one implementation is linked, chosen by CMake:
// name_lookup_default.cpp (dynamic builds) or linux/nss_static.cpp (static
// glibc builds).

namespace muster::agent::platform {

void configure_name_lookup();

}  // namespace muster::agent::platform
