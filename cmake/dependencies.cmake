# Development builds use Debian's packages (ci/install-deps.sh installs them).
# The pinned static builds for cross targets live in deps/.
find_package(PkgConfig REQUIRED)
pkg_check_modules(STROPHE REQUIRED IMPORTED_TARGET libstrophe)
find_package(cJSON REQUIRED)
find_package(CURL REQUIRED)
find_package(Threads REQUIRED)

find_path(MBEDTLS_INCLUDE_DIR mbedtls/ctr_drbg.h REQUIRED)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto REQUIRED)
add_library(muster_mbedcrypto INTERFACE)
target_include_directories(muster_mbedcrypto SYSTEM INTERFACE ${MBEDTLS_INCLUDE_DIR})
target_link_libraries(muster_mbedcrypto INTERFACE ${MBEDCRYPTO_LIBRARY})

# cJSON's package config exports a plain library name; wrap it as a target.
add_library(muster_cjson INTERFACE)
target_include_directories(muster_cjson SYSTEM INTERFACE ${CJSON_INCLUDE_DIRS})
target_link_libraries(muster_cjson INTERFACE ${CJSON_LIBRARIES})

if(MUSTER_BUILD_HUB)
  find_package(Poco REQUIRED COMPONENTS Foundation Util Net NetSSL Crypto Redis)
endif()
if(MUSTER_BUILD_TESTS)
  find_package(GTest REQUIRED)
  include(GoogleTest)
endif()
