// libFuzzer: proto::decode_cancel on arbitrary text, with a round-trip check.
#include "fuzz_common.hpp"
#include "muster/proto/messages.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  muster::fuzz::check_round_trip(muster::fuzz::as_text(data, size),
                                 [](std::string_view text) { return muster::proto::decode_cancel(text); });
  return 0;
}
