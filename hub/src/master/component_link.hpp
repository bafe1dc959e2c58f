#pragma once
// The master's XEP-0114 component connection (libstrophe). libstrophe is not
// thread-safe, so one thread owns it; other threads hand work to that thread
// through post(), which wakes its poll() at once.
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <strophe.h>

#include "master/stanza_link.hpp"

namespace muster::hub {

struct ComponentSettings {
  std::string host;
  unsigned short port = 5347;
  std::string domain;  // the component JID
  std::string secret;
};

class ComponentLink final : public StanzaLink {
 public:
  struct Handlers {
    std::function<void()> on_connected;
    // Every stanza addressed to the component (iq, message, presence).
    std::function<void(xmpp_stanza_t*)> on_stanza;
  };

  ComponentLink(ComponentSettings settings, Handlers handlers);
  ~ComponentLink() override;
  ComponentLink(const ComponentLink&) = delete;
  ComponentLink& operator=(const ComponentLink&) = delete;

  void start();
  void stop();
  // Runs `work` on the XMPP thread (where ctx() and send() may be used).
  void post(std::function<void()> work) override;
  // XMPP thread only.
  xmpp_ctx_t* ctx() const override { return ctx_; }
  void send(xmpp_stanza_t* stanza) override;
  bool connected() const override { return state_ == State::connected; }

 private:
  enum class State { idle, connecting, connected, waiting };
  using Clock = std::chrono::steady_clock;

  static void on_event(xmpp_conn_t*, xmpp_conn_event_t event, int error, xmpp_stream_error_t*, void* self);
  static int on_stanza(xmpp_conn_t*, xmpp_stanza_t* stanza, void* self);
  static int on_socket(xmpp_conn_t* conn, void* sock);

  void run();
  void connect_component();
  void wait_for_events(int timeout_ms);
  void drain_posted();

  ComponentSettings settings_;
  Handlers handlers_;
  xmpp_ctx_t* ctx_ = nullptr;
  xmpp_conn_t* conn_ = nullptr;
  std::atomic<State> state_{State::idle};
  int socket_fd_ = -1;
  int wake_fds_[2] = {-1, -1};
  int failures_ = 0;
  Clock::time_point next_attempt_{};
  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace muster::hub
