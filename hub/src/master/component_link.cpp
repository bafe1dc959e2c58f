#include "master/component_link.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <unistd.h>

#include <iostream>

#include "muster/proto/log.hpp"

namespace muster::hub {
namespace {

void strophe_log(void*, xmpp_log_level_t level, const char* area, const char* message) {
  if (level >= XMPP_LEVEL_WARN) log::info("master", std::string("xmpp ") + area + ": " + message);
}

// libstrophe's socket callback carries no user data; each link's thread knows
// its own link.
thread_local ComponentLink* t_link = nullptr;

}  // namespace

ComponentLink::ComponentLink(ComponentSettings settings, Handlers handlers)
    : settings_(std::move(settings)), handlers_(std::move(handlers)) {
  if (::pipe2(wake_fds_, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("cannot create wake pipe");
}

ComponentLink::~ComponentLink() {
  stop();
  ::close(wake_fds_[0]);
  ::close(wake_fds_[1]);
}

void ComponentLink::start() {
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void ComponentLink::stop() {
  if (!thread_.joinable()) return;
  stopping_ = true;
  post([] {});
  thread_.join();
}

void ComponentLink::post(std::function<void()> work) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(work));
  }
  const char byte = 1;
  ssize_t ignored = ::write(wake_fds_[1], &byte, 1);  // a full pipe already means "wake up"
  (void)ignored;
}

void ComponentLink::send(xmpp_stanza_t* stanza) {
  if (conn_ != nullptr && state_ == State::connected) xmpp_send(conn_, stanza);
}

int ComponentLink::on_socket(xmpp_conn_t*, void* sock) {
  const int fd = *static_cast<int*>(sock);
  // Small stanzas in both directions: Nagle's algorithm would add delay.
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  if (t_link != nullptr) t_link->socket_fd_ = fd;
  return XMPP_EOK;
}

void ComponentLink::connect_component() {
  state_ = State::connecting;
  socket_fd_ = -1;
  if (xmpp_connect_component(conn_, settings_.host.c_str(), settings_.port, on_event, this) != XMPP_EOK) {
    state_ = State::waiting;
    next_attempt_ = Clock::now() + std::chrono::seconds(1);
  }
}

void ComponentLink::on_event(xmpp_conn_t*, xmpp_conn_event_t event, int error, xmpp_stream_error_t*, void* self_ptr) {
  auto* self = static_cast<ComponentLink*>(self_ptr);
  if (event == XMPP_CONN_CONNECT) {
    self->state_ = State::connected;
    self->failures_ = 0;
    log::info("master", "component " + self->settings_.domain + " connected to " + self->settings_.host + ":" +
                           std::to_string(self->settings_.port));
    if (self->handlers_.on_connected) self->handlers_.on_connected();
    return;
  }
  // The XMPP server sits next to its masters: retrying once a second costs
  // nothing, and a restarted server is back in use within that second.
  const int delay_ms = std::min(1000, 250 << std::min(self->failures_, 2));
  ++self->failures_;
  log::info("master", "component link down (error " + std::to_string(error) + "); retry in " +
                         std::to_string(delay_ms) + " ms");
  self->state_ = State::waiting;
  self->next_attempt_ = Clock::now() + std::chrono::milliseconds(delay_ms);
}

int ComponentLink::on_stanza(xmpp_conn_t*, xmpp_stanza_t* stanza, void* self) {
  auto* link = static_cast<ComponentLink*>(self);
  const char* name = xmpp_stanza_get_name(stanza);
  if (name != nullptr && link->handlers_.on_stanza &&
      (std::string(name) == "iq" || std::string(name) == "message" || std::string(name) == "presence")) {
    link->handlers_.on_stanza(stanza);
  }
  return 1;
}

void ComponentLink::wait_for_events(int timeout_ms) {
  // The component stream has no TLS, so poll() on its socket sees every byte;
  // libstrophe then reads without waiting.
  pollfd fds[2] = {{wake_fds_[0], POLLIN, 0}, {-1, 0, 0}};
  nfds_t count = 1;
  if (socket_fd_ >= 0 && state_ != State::waiting) {
    short events = POLLIN;
    if (state_ == State::connecting || xmpp_conn_send_queue_len(conn_) > 0) events |= POLLOUT;
    fds[1] = {socket_fd_, events, 0};
    count = 2;
  }
  ::poll(fds, count, timeout_ms);
  char drain[64];
  while (::read(wake_fds_[0], drain, sizeof drain) > 0) {
  }
}

void ComponentLink::drain_posted() {
  std::vector<std::function<void()>> work;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    work.swap(posted_);
  }
  for (auto& w : work) w();
}

void ComponentLink::run() {
  static xmpp_log_t logger = {strophe_log, nullptr};
  xmpp_initialize();
  ctx_ = xmpp_ctx_new(nullptr, &logger);
  conn_ = xmpp_conn_new(ctx_);
  t_link = this;
  xmpp_conn_set_jid(conn_, settings_.domain.c_str());
  xmpp_conn_set_pass(conn_, settings_.secret.c_str());
  xmpp_conn_set_sockopt_callback(conn_, on_socket);
  xmpp_handler_add(conn_, on_stanza, nullptr, nullptr, nullptr, this);
  connect_component();

  while (!stopping_) {
    if (state_ == State::waiting && Clock::now() >= next_attempt_) connect_component();
    const bool busy = state_ != State::connected && state_ != State::waiting;
    wait_for_events(busy ? 10 : 250);
    xmpp_run_once(ctx_, 0);
    drain_posted();
    xmpp_run_once(ctx_, 0);  // flush what the posted work queued
  }
  drain_posted();
  if (state_ == State::connected) {
    xmpp_disconnect(conn_);
    const auto deadline = Clock::now() + std::chrono::seconds(2);
    while (state_ == State::connected && Clock::now() < deadline) xmpp_run_once(ctx_, 20);
  }
  xmpp_conn_release(conn_);
  xmpp_ctx_free(ctx_);
  conn_ = nullptr;
  ctx_ = nullptr;
}

}  // namespace muster::hub
