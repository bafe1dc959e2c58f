// libFuzzer: hub::parse_job_request, the parser of POST /api/v1/jobs bodies.
// Bad input must end in hub::ApiError (a 4xx with a code and a message);
// any other exception escaping, a crash or a sanitizer report is a bug.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>

#include "core/errors.hpp"
#include "core/job_request.hpp"

namespace {

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "muster fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string body(reinterpret_cast<const char*>(data), size);
  try {
    const auto request = muster::hub::parse_job_request(body);
    if (request.command.has_value() == !request.argv.empty()) {
      fail("a request with both or neither of command and argv was accepted", body);
    }
    // The limits it accepted resolve for any job size.
    for (const std::size_t total : {std::size_t{0}, std::size_t{1}, std::size_t{7}, std::size_t{1000000}}) {
      if (muster::hub::resolve_limit(request.concurrency, total) < 0 ||
          muster::hub::resolve_limit(request.max_failures, total) < 0) {
        fail("a limit resolved below zero", body);
      }
    }
  } catch (const muster::hub::ApiError& e) {
    if (e.status < 400 || e.status > 499) fail("an ApiError outside 4xx", body);
    if (e.code.empty() || std::string(e.what()).empty()) fail("an ApiError without a code or a message", body);
  } catch (const std::exception& e) {
    fail("an exception other than ApiError escaped", std::string(e.what()) + "\n" + body);
  }
  return 0;
}
