# Link rules for the agent artifacts (MUSTER_STATIC_AGENT, on with a cross/
# toolchain file): one self-contained executable per target, built against the
# pinned static dependency set (MUSTER_DEPS_DIR).
#  - Linux: fully static glibc, as static-pie (ASLR) where the toolchain has
#    it (rcrt1.o), else plain -static. Name lookups are then restricted to
#    glibc's built-in "files dns" at start (platform/linux/), because a static
#    binary must never dlopen the host's NSS modules.
#  - Windows: libgcc, libstdc++ and winpthread linked in (-static), so the exe
#    needs only system DLLs.
# Only agent targets link muster::static_runtime; the hub never does.
include(CheckCSourceCompiles)

add_library(muster_static_runtime INTERFACE)
add_library(muster::static_runtime ALIAS muster_static_runtime)
set(MUSTER_STATIC_PIE OFF)

if(MUSTER_STATIC_AGENT)
  if(MUSTER_SANITIZE OR MUSTER_FUZZ)
    message(FATAL_ERROR "MUSTER_STATIC_AGENT cannot be combined with sanitizers (MUSTER_SANITIZE, MUSTER_FUZZ)")
  endif()
  if(CMAKE_SYSTEM_NAME STREQUAL "Linux")
    set(CMAKE_REQUIRED_FLAGS "-fPIE")
    set(CMAKE_REQUIRED_LINK_OPTIONS "-static-pie")
    check_c_source_compiles("int main(void) { return 0; }" MUSTER_HAVE_STATIC_PIE)
    unset(CMAKE_REQUIRED_FLAGS)
    unset(CMAKE_REQUIRED_LINK_OPTIONS)
    if(MUSTER_HAVE_STATIC_PIE)
      set(MUSTER_STATIC_PIE ON)
      target_compile_options(muster_static_runtime INTERFACE -fPIE)
      target_link_options(muster_static_runtime INTERFACE -static-pie)
    else()
      target_link_options(muster_static_runtime INTERFACE -static)
    endif()
  elseif(WIN32)
    target_link_options(muster_static_runtime INTERFACE -static -static-libgcc -static-libstdc++)
  endif()
  # Drop unreferenced sections of the static archives (about 450 KB of the
  # x86_64 agent).
  target_link_options(muster_static_runtime INTERFACE -Wl,--gc-sections)
  # Our terminate handler, as an object of each executable (not an archive
  # member), so libstdc++'s verbose one and its demangler stay out (47 KiB).
  target_sources(muster_static_runtime INTERFACE "${PROJECT_SOURCE_DIR}/agent/src/platform/static_terminate.cpp")
  message(STATUS "Agent link: static (static-pie: ${MUSTER_STATIC_PIE})")
endif()
