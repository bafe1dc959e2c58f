# Every build switch in one place, one prefix.
option(MUSTER_WERROR "Treat warnings in Muster's own code as errors" ON)
option(MUSTER_BUILD_HUB "Build muster-hub (needs Poco)" ON)
option(MUSTER_BUILD_TESTS "Build unit tests and register integration tests" ON)
set(MUSTER_SANITIZE "" CACHE STRING "Sanitizers for Muster's code, e.g. address;undefined")
# Fully static agent executables (muster-agent, agent_tests): the artifact
# builds, whose cross/<target>.cmake toolchain file sets MUSTER_TARGET. The
# host build (hub, tests, ASan, fuzzing) links the same pinned libraries into
# ordinary dynamically linked executables (sanitizers need that).
if(DEFINED MUSTER_TARGET)
  set(_muster_static_agent_default ON)
else()
  set(_muster_static_agent_default OFF)
endif()
option(MUSTER_STATIC_AGENT "Link the agent executables fully static (default: ON with a cross/ toolchain file)"
       ${_muster_static_agent_default})
