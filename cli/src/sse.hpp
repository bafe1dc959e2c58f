#pragma once
// Server-sent events (the text/event-stream format) read incrementally: feed
// bytes as they come, get whole events. Comments (": keepalive") are skipped;
// an event bigger than the limit is an error rather than unbounded memory.
#include <functional>
#include <string>
#include <string_view>

namespace muster::cli {

struct SseEvent {
  std::string id;     // empty if the event had none
  std::string type;   // "message" if the event named none
  std::string data;   // the data lines joined by "\n"
};

class SseParser {
 public:
  using Handler = std::function<bool(const SseEvent&)>;  // false: stop
  explicit SseParser(Handler handler, std::size_t max_event_bytes = std::size_t{4} << 20)
      : handler_(std::move(handler)), max_event_bytes_(max_event_bytes) {}

  // Returns false once the handler said stop or an event grew past the limit.
  bool feed(std::string_view bytes);
  bool too_large() const { return too_large_; }

 private:
  bool line(std::string_view text);
  bool dispatch();

  Handler handler_;
  std::size_t max_event_bytes_;
  std::string partial_;  // an unfinished line
  bool after_cr_ = false;  // the last byte was CR: a following LF ends nothing
  SseEvent event_;
  bool has_data_ = false;
  bool too_large_ = false;
  bool stopped_ = false;
};

}  // namespace muster::cli
