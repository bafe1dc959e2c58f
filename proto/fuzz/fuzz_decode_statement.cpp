// libFuzzer: proto::decode_statement (the signed JobStatement text), with a round-trip check.
#include "fuzz_common.hpp"
#include "muster/proto/signing.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  muster::fuzz::check_round_trip(muster::fuzz::as_text(data, size),
                                 [](std::string_view text) { return muster::proto::decode_statement(text); });
  return 0;
}
