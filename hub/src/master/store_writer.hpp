#pragma once
// The store work of the XMPP thread (presence, output chunks, refused tasks,
// replies to admin commands), done on a thread of its own, in order: the
// XMPP thread never waits for the store. A failure is logged and reported to
// `on_failure` (the master then runs its store recovery); the work is not
// retried (the agent's next presence or resend repeats it).
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

#include "store/store.hpp"

namespace muster::hub {

class StoreWriter {
 public:
  explicit StoreWriter(std::function<void()> on_failure) : on_failure_(std::move(on_failure)) {}
  ~StoreWriter() { stop(); }
  StoreWriter(const StoreWriter&) = delete;
  StoreWriter& operator=(const StoreWriter&) = delete;

  void start();
  // Runs what is queued, then stops.
  void stop();
  // Any thread.
  void post(std::function<void()> work);

 private:
  void loop();

  std::function<void()> on_failure_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace muster::hub
