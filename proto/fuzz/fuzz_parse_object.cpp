// libFuzzer: proto::parse_object, the strict JSON reader every decoder starts
// with. What it accepts must dump to text it accepts again.
#include "fuzz_common.hpp"
#include "muster/proto/json.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = muster::fuzz::as_text(data, size);
  auto parsed = muster::proto::parse_object(text);
  if (!parsed) return 0;
  if (!cJSON_IsObject(parsed->get())) muster::fuzz::fail("parse_object returned a non-object", std::string(text));
  const std::string dumped = muster::proto::dump(parsed->get());
  auto again = muster::proto::parse_object(dumped);
  if (!again) muster::fuzz::fail("dump wrote what parse_object refuses", dumped + "\n" + again.error().message);
  return 0;
}
