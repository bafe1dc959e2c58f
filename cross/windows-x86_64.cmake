# Windows x86_64 with mingw-w64; the -posix compilers give std::thread.
# Tests run under wine (through a wrapper that keeps wine quiet and private).
set(CMAKE_SYSTEM_NAME Windows)
set(CMAKE_SYSTEM_PROCESSOR x86_64)
set(CMAKE_C_COMPILER x86_64-w64-mingw32-gcc-posix)
set(CMAKE_CXX_COMPILER x86_64-w64-mingw32-g++-posix)
set(CMAKE_RC_COMPILER x86_64-w64-mingw32-windres)
set(CMAKE_FIND_ROOT_PATH /usr/x86_64-w64-mingw32)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# Vista or later: WSAPoll, inet_pton, Job Objects nesting (8+ at run time).
add_compile_definitions(_WIN32_WINNT=0x0601 WINVER=0x0601)
set(CMAKE_CROSSCOMPILING_EMULATOR ${CMAKE_CURRENT_LIST_DIR}/emulators/wine.sh)
set(MUSTER_TARGET windows-x86_64 CACHE STRING "Agent target (toolchain name)")
# mingw's C99 printf (%zu, %lld) at run time. GCC checks format(printf)
# attributes against the Microsoft runtime's formats on this target, which
# would reject %zu; format checking stays on in every Linux build.
add_compile_definitions(__USE_MINGW_ANSI_STDIO=1)
add_compile_options(-Wno-format)
# Every function and object in its own section, in all libraries and our
# code, so the agent's --gc-sections link drops what it never calls.
add_compile_options(-ffunction-sections -fdata-sections)
