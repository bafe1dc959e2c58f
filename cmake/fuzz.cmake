# libFuzzer harnesses (proto/fuzz, cli/fuzz, hub/fuzz): -DMUSTER_FUZZ=ON, clang only
# (the `fuzz` preset). Muster's own code is built with coverage feedback and
# ASan+UBSan; each harness links libFuzzer. ci/fuzz.sh builds the target
# muster_fuzzers and runs each harness for a bounded time from its seeds.
option(MUSTER_FUZZ "Build the libFuzzer harnesses (needs clang)" OFF)
if(NOT MUSTER_FUZZ)
  return()
endif()

if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang" OR NOT CMAKE_C_COMPILER_ID STREQUAL "Clang")
  message(FATAL_ERROR "MUSTER_FUZZ needs clang (libFuzzer), not ${CMAKE_C_COMPILER_ID}/${CMAKE_CXX_COMPILER_ID}: "
                      "configure with the `fuzz` preset (ci/install-fuzz-deps.sh installs clang)")
endif()

# Coverage feedback and sanitizers in all of Muster's code (every Muster
# target links muster::sanitizers), fatal on the first report.
target_compile_options(muster_sanitizers INTERFACE
  -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
target_link_options(muster_sanitizers INTERFACE -fsanitize=address,undefined)

add_custom_target(muster_fuzzers)
set(MUSTER_FUZZ_TARGETS "" CACHE INTERNAL "")

# muster_add_fuzzer(NAME SOURCES src... LIBRARIES lib... CORPUS dir)
function(muster_add_fuzzer name)
  cmake_parse_arguments(F "" "CORPUS" "SOURCES;LIBRARIES" ${ARGN})
  add_executable(${name} ${F_SOURCES})
  target_link_libraries(${name} PRIVATE ${F_LIBRARIES} muster::warnings muster::sanitizers)
  target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
  target_link_options(${name} PRIVATE -fsanitize=fuzzer)
  add_dependencies(muster_fuzzers ${name})
  set(MUSTER_FUZZ_TARGETS "${MUSTER_FUZZ_TARGETS};${name}=${F_CORPUS}" CACHE INTERNAL "")
endfunction()

add_subdirectory(proto/fuzz)
add_subdirectory(cli/fuzz)
if(MUSTER_BUILD_HUB)
  add_subdirectory(hub/fuzz)
endif()

# The list ci/fuzz.sh runs: one "<binary> <seed corpus>" line per harness.
set(_muster_fuzz_list "")
foreach(entry IN LISTS MUSTER_FUZZ_TARGETS)
  if(entry)
    string(REPLACE "=" ";" parts "${entry}")
    list(GET parts 0 target)
    list(GET parts 1 corpus)
    string(APPEND _muster_fuzz_list "$<TARGET_FILE:${target}> ${corpus}\n")
  endif()
endforeach()
file(GENERATE OUTPUT "${CMAKE_BINARY_DIR}/fuzz-targets.txt" CONTENT "${_muster_fuzz_list}")
