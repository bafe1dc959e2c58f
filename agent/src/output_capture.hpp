#pragma once
#include <cstdint>
#include <string>
#include <string_view>

namespace muster::agent {

// Keeps the first and the last half of `quota` bytes of one output stream and
// counts what falls in between, so a chatty command cannot exhaust memory.
class OutputCapture {
 public:
  explicit OutputCapture(std::size_t quota);

  // Appends bytes; returns the part that went into the head (streamed live).
  std::string_view append(std::string_view data);
  // Head, then tail; a gap marker is not inserted (dropped() says how much).
  std::string text() const;
  std::uint64_t dropped() const { return total_ - head_.size() - tail_.size(); }
  std::uint64_t total() const { return total_; }

 private:
  std::size_t head_cap_;
  std::size_t tail_cap_;
  std::string head_;
  std::string tail_;
  std::uint64_t total_ = 0;
};

}  // namespace muster::agent
