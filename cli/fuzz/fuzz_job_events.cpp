// libFuzzer: an event stream as `muster run` reads it from the hub. The SSE
// parser must find the same events whether the bytes come at once or in
// two pieces split anywhere, and every decoded event must pass through the
// run view (plain and json) without a crash or a sanitizer report.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "job_events.hpp"
#include "run_view.hpp"
#include "sse.hpp"

namespace {

using muster::cli::SseEvent;

std::vector<SseEvent> parse(const std::vector<std::string_view>& pieces) {
  std::vector<SseEvent> events;
  muster::cli::SseParser parser(
      [&](const SseEvent& e) {
        events.push_back(e);
        return true;
      },
      4096);
  for (auto piece : pieces) parser.feed(piece);
  return events;
}

bool same(const std::vector<SseEvent>& a, const std::vector<SseEvent>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].id != b[i].id || a[i].type != b[i].type || a[i].data != b[i].data) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::size_t split = data[0] % (text.size() + 1);
  const auto whole = parse({text});
  if (!same(whole, parse({text.substr(0, split), text.substr(split)}))) {
    std::fprintf(stderr, "muster fuzz: SSE events differ when split at %zu\n", split);
    std::abort();
  }
  static std::FILE* sink = std::fopen("/dev/null", "w");
  for (auto mode : {muster::cli::ViewMode::plain, muster::cli::ViewMode::json}) {
    muster::cli::RunView view(mode, {{"a", "web-1"}}, 3, sink, sink);
    for (const auto& sse : whole) {
      muster::cli::JobEvent event;
      if (muster::cli::decode_job_event(sse, event)) view.event(event);
    }
  }
  return 0;
}
