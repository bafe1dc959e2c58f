# Third-party libraries come from one place: the pinned set that
# deps/build.sh TARGET writes to /var/cache/muster-deps/TARGET (mbedTLS, expat,
# cJSON, curl, libstrophe 0.14.0 with our mbedTLS backend and patches,
# GoogleTest), for every build: the static and cross agents, and the host
# build (hub, dynamically linked agent, tests, ASan, fuzzing), which uses the
# linux-x86_64-static set (position-independent archives). Only Poco (the
# hub's HTTP server, config and store client), OpenSSL under Poco and the
# shared libexpat Poco's XML uses stay Debian's packages (ci/install-deps.sh).
# The same targets exist for every target, so proto/, agent/ and hub/ link the
# same names: PkgConfig::STROPHE, muster_cjson, CURL::libcurl,
# muster_mbedcrypto, Threads::Threads, GTest::gtest_main.
if(DEFINED MUSTER_TARGET)
  set(_muster_deps_default_target "${MUSTER_TARGET}")  # from the cross/ toolchain file
else()
  set(_muster_deps_default_target linux-x86_64-static)
endif()
if(DEFINED ENV{MUSTER_DEPS_CACHE})
  set(_muster_deps_cache "$ENV{MUSTER_DEPS_CACHE}")
else()
  set(_muster_deps_cache /var/cache/muster-deps)
endif()
set(MUSTER_DEPS_DIR "${_muster_deps_cache}/${_muster_deps_default_target}" CACHE PATH
    "Pinned dependency set written by deps/build.sh TARGET")
if(NOT MUSTER_DEPS_DIR)  # a build folder from when empty meant Debian's packages
  set(MUSTER_DEPS_DIR "${_muster_deps_cache}/${_muster_deps_default_target}" CACHE PATH
      "Pinned dependency set written by deps/build.sh TARGET" FORCE)
endif()
if(NOT EXISTS "${MUSTER_DEPS_DIR}/muster-deps.cmake")
  get_filename_component(_muster_deps_target "${MUSTER_DEPS_DIR}" NAME)
  message(FATAL_ERROR "${MUSTER_DEPS_DIR}/muster-deps.cmake is missing: run deps/build.sh ${_muster_deps_target} "
                      "(ci/build.sh and ci/install-deps.sh do it for the presets)")
endif()

find_package(Threads REQUIRED)

include("${MUSTER_DEPS_DIR}/muster-deps.cmake")
message(STATUS "Dependencies: pinned set for ${MUSTER_DEPS_TARGET} in ${MUSTER_DEPS_DIR}")

function(_muster_static_lib name path)
  if(NOT EXISTS "${path}")
    message(FATAL_ERROR "${path} is missing: run deps/build.sh ${MUSTER_DEPS_TARGET}")
  endif()
  add_library(${name} STATIC IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES IMPORTED_LOCATION "${path}")
endfunction()

_muster_static_lib(muster_dep_mbedtls "${MUSTER_DEP_MBEDTLS}/lib/libmbedtls.a")
_muster_static_lib(muster_dep_mbedx509 "${MUSTER_DEP_MBEDTLS}/lib/libmbedx509.a")
_muster_static_lib(muster_dep_mbedcrypto "${MUSTER_DEP_MBEDTLS}/lib/libmbedcrypto.a")
set_target_properties(muster_dep_mbedcrypto PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${MUSTER_DEP_MBEDTLS}/include"
  INTERFACE_LINK_LIBRARIES "$<$<PLATFORM_ID:Windows>:bcrypt;advapi32>")
set_target_properties(muster_dep_mbedx509 PROPERTIES INTERFACE_LINK_LIBRARIES muster_dep_mbedcrypto)
set_target_properties(muster_dep_mbedtls PROPERTIES INTERFACE_LINK_LIBRARIES muster_dep_mbedx509)

_muster_static_lib(muster_dep_expat "${MUSTER_DEP_EXPAT}/lib/libexpat.a")
set_target_properties(muster_dep_expat PROPERTIES INTERFACE_COMPILE_DEFINITIONS XML_STATIC)

add_library(muster_mbedcrypto INTERFACE)
target_link_libraries(muster_mbedcrypto INTERFACE muster_dep_mbedcrypto)

_muster_static_lib(muster_dep_cjson "${MUSTER_DEP_CJSON}/lib/libcjson.a")
add_library(muster_cjson INTERFACE)
target_include_directories(muster_cjson SYSTEM INTERFACE "${MUSTER_DEP_CJSON}/include")
target_link_libraries(muster_cjson INTERFACE muster_dep_cjson)

_muster_static_lib(CURL::libcurl "${MUSTER_DEP_CURL}/lib/libcurl.a")
set_target_properties(CURL::libcurl PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${MUSTER_DEP_CURL}/include"
  INTERFACE_COMPILE_DEFINITIONS CURL_STATICLIB
  INTERFACE_LINK_LIBRARIES "muster_dep_mbedtls;Threads::Threads;$<$<PLATFORM_ID:Windows>:ws2_32;crypt32;bcrypt;advapi32>")

# The hub also loads Poco's XML, linked to Debian's shared libexpat; a
# static expat in the same executable would interpose its symbols on Poco.
# So in a build with the hub, everything but the static agent executables
# (which set the target property MUSTER_STATIC_AGENT) gives libstrophe
# Debian's libexpat (2.5.0 with the same Debian patches).
set(_muster_strophe_expat muster_dep_expat)
if(MUSTER_BUILD_HUB)
  find_package(EXPAT REQUIRED)
  set(_muster_strophe_expat
      "$<IF:$<BOOL:$<TARGET_PROPERTY:MUSTER_STATIC_AGENT>>,muster_dep_expat,EXPAT::EXPAT>")
endif()
_muster_static_lib(PkgConfig::STROPHE "${MUSTER_DEP_LIBSTROPHE}/lib/libstrophe.a")
set_target_properties(PkgConfig::STROPHE PROPERTIES
  INTERFACE_INCLUDE_DIRECTORIES "${MUSTER_DEP_LIBSTROPHE}/include"
  INTERFACE_LINK_LIBRARIES "muster_dep_mbedtls;${_muster_strophe_expat};$<$<PLATFORM_ID:Linux>:resolv>;$<$<PLATFORM_ID:Windows>:ws2_32;iphlpapi;bcrypt;advapi32>")

if(MUSTER_BUILD_HUB)
  find_package(Poco REQUIRED COMPONENTS Foundation Util Net NetSSL Crypto Redis)
endif()
if(MUSTER_BUILD_TESTS)
  _muster_static_lib(GTest::gtest "${MUSTER_DEP_GOOGLETEST}/lib/libgtest.a")
  set_target_properties(GTest::gtest PROPERTIES
    INTERFACE_INCLUDE_DIRECTORIES "${MUSTER_DEP_GOOGLETEST}/include"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  _muster_static_lib(GTest::gtest_main "${MUSTER_DEP_GOOGLETEST}/lib/libgtest_main.a")
  set_target_properties(GTest::gtest_main PROPERTIES INTERFACE_LINK_LIBRARIES GTest::gtest)
  include(GoogleTest)
endif()
