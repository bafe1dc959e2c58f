// The terminate handler of the static agent executables, in place of
// libstdc++'s default __gnu_cxx::__verbose_terminate_handler. That one
// demangles the type name of the uncaught exception, which links the whole C++
// demangler (libstdc++'s cp-demangle.o, ~47 KiB of the x86_64 agent). An
// object file that defines the handler keeps that archive member out of a
// static link (cmake/static_agent.cmake adds this file to every static agent
// executable). Same behaviour otherwise: a message with what(), then abort().
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace __gnu_cxx {

void __verbose_terminate_handler() {
  static bool entered = false;
  if (entered) std::abort();  // terminate() again, from in here
  entered = true;
  if (std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "terminate called after throwing an exception\n  what():  %s\n", e.what());
    } catch (...) {
      std::fputs("terminate called after throwing a non-standard exception\n", stderr);
    }
  } else {
    std::fputs("terminate called without an active exception\n", stderr);
  }
  std::abort();
}

}  // namespace __gnu_cxx
