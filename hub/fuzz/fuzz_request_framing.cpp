// libFuzzer: the api's request framing (request line, headers, Content-Length
// and chunked bodies). Whatever the bytes, the framer ends in a request or a
// refusal with one of the statuses below, never over its bounds; and feeding
// the same bytes in small pieces (as a slow client sends them) frames exactly
// what feeding them at once does.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "api/request_framing.hpp"

namespace {

using muster::hub::FramingLimits;
using muster::hub::RequestFramer;

[[noreturn]] void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "muster fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// What the framer makes of `bytes` fed `piece` bytes at a time: each request
// as head + body, then the refusal's status, if any.
std::vector<std::string> frame(const std::string& bytes, std::size_t piece, const FramingLimits& limits) {
  RequestFramer framer(limits);
  std::vector<std::string> out;
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    framer.feed(bytes.data() + at, std::min(piece, bytes.size() - at));
    while (framer.state() == RequestFramer::State::complete) {
      const auto request = framer.take();
      if (request.body.size() > limits.max_body) fail("body over the bound", bytes);
      out.push_back(request.head + "|" + request.body);
    }
    if (framer.state() == RequestFramer::State::failed) {
      const int status = framer.error().status;
      if (status != 400 && status != 413 && status != 414 && status != 431) {
        fail("unexpected status", std::to_string(status));
      }
      if (framer.error().message.empty() || framer.error().code.empty()) fail("refusal without code", bytes);
      out.push_back("failed " + std::to_string(status));
      break;
    }
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t piece = data[0] % 7 + 1;
  const std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);
  FramingLimits limits;
  limits.max_request_line = 256;  // small bounds, so the fuzzer reaches them
  limits.max_head = 1024;
  limits.max_fields = 16;
  limits.max_body = 2048;
  if (frame(bytes, bytes.size() + 1, limits) != frame(bytes, piece, limits)) {
    fail("framing depends on how the bytes arrive", bytes);
  }
  return 0;
}
