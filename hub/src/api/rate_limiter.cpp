#include "api/rate_limiter.hpp"

#include <algorithm>
#include <cmath>

namespace muster::hub {

int RateLimiter::wait_seconds(const std::string& key) {
  if (rate_ <= 0) return 0;
  const double burst = 2.0 * rate_;
  const auto now = Clock::now();
  std::lock_guard<std::mutex> lock(mutex_);
  if (now - last_sweep_ > std::chrono::seconds(10)) forget_full(now);
  auto [it, fresh] = buckets_.try_emplace(key, Bucket{burst, now});
  Bucket& b = it->second;
  if (!fresh) {
    const double elapsed = std::chrono::duration<double>(now - b.updated).count();
    b.tokens = std::min(burst, b.tokens + elapsed * rate_);
    b.updated = now;
  }
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return 0;
  }
  return std::max(1, static_cast<int>(std::ceil((1.0 - b.tokens) / rate_)));
}

void RateLimiter::forget_full(Clock::time_point now) {
  last_sweep_ = now;
  // A bucket that would have refilled by now holds nothing worth keeping.
  const auto refill = std::chrono::duration<double>(2.0);
  for (auto it = buckets_.begin(); it != buckets_.end();) {
    it = now - it->second.updated > refill ? buckets_.erase(it) : std::next(it);
  }
}

}  // namespace muster::hub
