#pragma once
// A StanzaLink for unit tests: posted work runs at once on the caller's
// thread, and every stanza sent is kept as its XML text.
#include <atomic>
#include <mutex>
#include <string>
#include <vector>

#include <strophe.h>

#include "master/stanza_link.hpp"

namespace muster::hub::testing {

class FakeLink final : public StanzaLink {
 public:
  FakeLink() {
    xmpp_initialize();
    ctx_ = xmpp_ctx_new(nullptr, nullptr);
  }
  ~FakeLink() override { xmpp_ctx_free(ctx_); }
  FakeLink(const FakeLink&) = delete;
  FakeLink& operator=(const FakeLink&) = delete;

  void post(std::function<void()> work) override {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    work();
  }
  xmpp_ctx_t* ctx() const override { return ctx_; }
  void send(xmpp_stanza_t* stanza) override {
    char* text = nullptr;
    size_t length = 0;
    xmpp_stanza_to_text(stanza, &text, &length);
    sent_.emplace_back(text, length);
    xmpp_free(ctx_, text);
  }
  bool connected() const override { return connected_; }

  void set_connected(bool up) { connected_ = up; }
  std::vector<std::string> take_sent() {
    std::lock_guard<std::recursive_mutex> lock(mutex_);
    std::vector<std::string> out;
    out.swap(sent_);
    return out;
  }

 private:
  // The real link runs posted work on one thread; the lock keeps that promise
  // for the recorder's and store writer's threads.
  std::recursive_mutex mutex_;
  xmpp_ctx_t* ctx_ = nullptr;
  std::atomic<bool> connected_{true};
  std::vector<std::string> sent_;
};

}  // namespace muster::hub::testing
