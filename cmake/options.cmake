# Every build switch in one place, one prefix.
option(MUSTER_WERROR "Treat warnings in Muster's own code as errors" ON)
option(MUSTER_BUILD_HUB "Build muster-hub (needs Poco)" ON)
option(MUSTER_BUILD_TESTS "Build unit tests and register integration tests" ON)
set(MUSTER_SANITIZE "" CACHE STRING "Sanitizers for Muster's code, e.g. address;undefined")
