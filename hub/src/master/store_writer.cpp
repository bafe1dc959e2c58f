#include "master/store_writer.hpp"

#include "muster/proto/log.hpp"

namespace muster::hub {

void StoreWriter::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void StoreWriter::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StoreWriter::post(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(work));
  }
  wake_.notify_one();
}

void StoreWriter::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and nothing left
    auto work = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    try {
      work();
    } catch (const StoreError& e) {
      log::warn("master", std::string("store: ") + e.what());
      if (on_failure_) on_failure_();
    } catch (const std::exception& e) {
      log::error("master", std::string("store writer: ") + e.what());
    }
    lock.lock();
  }
}

}  // namespace muster::hub
