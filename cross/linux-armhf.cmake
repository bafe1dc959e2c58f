# Linux armhf (ARMv7, hard float), fully static agent; tests run under qemu-user.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR armv7l)
set(CMAKE_C_COMPILER arm-linux-gnueabihf-gcc)
set(CMAKE_CXX_COMPILER arm-linux-gnueabihf-g++)
set(CMAKE_FIND_ROOT_PATH /usr/arm-linux-gnueabihf)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-arm-static -L /usr/arm-linux-gnueabihf)
set(MUSTER_TARGET linux-armhf CACHE STRING "Agent target (toolchain name)")
# 64-bit file offsets and time_t on this 32-bit target, in every library:
# large files, dates past 2038, and readdir() that copes with 64-bit
# directory cookies (ext4 hands them out to qemu-user and to compat tasks).
add_compile_definitions(_FILE_OFFSET_BITS=64 _TIME_BITS=64)
# Every function and object in its own section, in all libraries and our
# code, so the agent's --gc-sections link drops what it never calls.
add_compile_options(-ffunction-sections -fdata-sections)
