#pragma once
// Shared by the libFuzzer harnesses of proto/: every decoder must either
// refuse its input with an Error or return a message that survives a round
// trip (encode, decode again, encode again: the same text). Anything else is a
// bug: a crash, a sanitizer report, or a message its own encoder cannot carry.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include "muster/proto/messages.hpp"
#include "muster/proto/result.hpp"
#include "muster/proto/signing.hpp"

namespace muster::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void fail(const char* what, const std::string& detail) {
  std::fprintf(stderr, "muster fuzz: %s\n%s\n", what, detail.c_str());
  std::abort();
}

// decode(text) → encode → decode → encode must be stable once the first decode succeeds.
template <class Decode>
void check_round_trip(std::string_view text, Decode decode) {
  auto first = decode(text);
  if (!first) {
    if (first.error().message.empty()) fail("a refusal without a message", std::string(text));
    return;
  }
  const std::string encoded = proto::encode(*first);
  auto second = decode(std::string_view(encoded));
  if (!second) fail("the encoder wrote what its decoder refuses", encoded + "\n" + second.error().message);
  const std::string again = proto::encode(*second);
  if (again != encoded) fail("the round trip is not stable", encoded + "\n" + again);
}

}  // namespace muster::fuzz
