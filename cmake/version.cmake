# Muster's one version is project(VERSION) in the root CMakeLists.txt. Code
# gets it from the generated header <muster/version.hpp> (target
# muster::version); packaging/build-packages.sh reads muster-version.txt in
# the build folder and checks it against what the binary prints.
configure_file(${CMAKE_CURRENT_LIST_DIR}/version.hpp.in ${PROJECT_BINARY_DIR}/generated/muster/version.hpp @ONLY)
file(WRITE ${PROJECT_BINARY_DIR}/muster-version.txt "${PROJECT_VERSION}\n")
add_library(muster_version INTERFACE)
add_library(muster::version ALIAS muster_version)
target_include_directories(muster_version INTERFACE ${PROJECT_BINARY_DIR}/generated)
