#include "sse.hpp"

namespace muster::cli {

bool SseParser::feed(std::string_view bytes) {
  for (char c : bytes) {
    if (stopped_) return false;
    if (c == '\n' && after_cr_) {  // the LF of a CRLF
      after_cr_ = false;
      continue;
    }
    after_cr_ = c == '\r';
    if (c == '\r' || c == '\n') {
      if (!line(partial_)) stopped_ = true;
      partial_.clear();
      continue;
    }
    partial_ += c;
    if (partial_.size() + event_.data.size() > max_event_bytes_) {
      too_large_ = stopped_ = true;
    }
  }
  return !stopped_;
}

bool SseParser::line(std::string_view text) {
  if (text.empty()) return dispatch();
  if (text[0] == ':') return true;  // a comment: the hub's keepalive
  const std::size_t colon = text.find(':');
  const std::string_view field = text.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : text.substr(colon + 1);
  if (!value.empty() && value[0] == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (has_data_) event_.data += '\n';
    event_.data += value;
    has_data_ = true;
  } else if (field == "event") {
    event_.type = value;
  } else if (field == "id") {
    event_.id = value;
  }  // "retry" and unknown fields: ignored, as the format says
  return true;
}

bool SseParser::dispatch() {
  bool go_on = true;
  if (has_data_) {
    if (event_.type.empty()) event_.type = "message";
    go_on = handler_(event_);
  }
  event_ = SseEvent{};
  has_data_ = false;
  return go_on;
}

}  // namespace muster::cli
