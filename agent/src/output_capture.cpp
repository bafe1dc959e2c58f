#include "output_capture.hpp"

namespace muster::agent {

OutputCapture::OutputCapture(std::size_t quota) : head_cap_(quota / 2), tail_cap_(quota - quota / 2) {}

std::string_view OutputCapture::append(std::string_view data) {
  total_ += data.size();
  const std::size_t to_head = std::min(data.size(), head_cap_ - head_.size());
  const std::size_t head_start = head_.size();
  head_.append(data.substr(0, to_head));
  data.remove_prefix(to_head);
  if (!data.empty()) {
    if (data.size() >= tail_cap_) {
      tail_.assign(data.substr(data.size() - tail_cap_));
    } else {
      tail_.append(data);
      if (tail_.size() > tail_cap_) tail_.erase(0, tail_.size() - tail_cap_);
    }
  }
  return std::string_view(head_).substr(head_start, to_head);
}

std::string OutputCapture::text() const { return head_ + tail_; }

}  // namespace muster::agent
