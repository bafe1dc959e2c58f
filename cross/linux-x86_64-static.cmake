# Linux x86_64, fully static agent (runs on old distros). Native compiler, so
# no emulator is needed to run the unit tests.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER gcc)
set(CMAKE_CXX_COMPILER g++)
set(MUSTER_TARGET linux-x86_64-static CACHE STRING "Agent target (toolchain name)")
# Every function and object in its own section, in all libraries and our
# code, so the agent's --gc-sections link drops what it never calls.
add_compile_options(-ffunction-sections -fdata-sections)
