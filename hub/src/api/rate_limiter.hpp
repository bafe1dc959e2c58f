#pragma once
// Requests per second per key (a client address, a token), as token
// buckets: `rate` a second on average, bursts of up to twice that. A key
// idle long enough to be full again is forgotten, so memory follows the
// clients active in the last seconds.
#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace muster::hub {

class RateLimiter {
 public:
  // `rate` 0: no limit.
  explicit RateLimiter(int rate) : rate_(rate) {}
  // 0 when the request may go on, else the seconds to wait (Retry-After).
  int wait_seconds(const std::string& key);
  bool enabled() const { return rate_ > 0; }

 private:
  using Clock = std::chrono::steady_clock;
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void forget_full(Clock::time_point now);

  const int rate_;
  std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point last_sweep_ = Clock::now();
};

}  // namespace muster::hub
