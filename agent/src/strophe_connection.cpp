#include "strophe_connection.hpp"

#include <algorithm>
#include <random>

#include "log.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/stanza.hpp"
#include "platform/net.hpp"

namespace muster::agent {
namespace {

constexpr int kMaxBackoffSeconds = 60;
constexpr const char* kPingNs = "urn:xmpp:ping";

// Exponential backoff capped at a minute, with jitter so a fleet that lost
// its server does not come back in lock step.
std::chrono::milliseconds backoff_delay(int failed_attempts) {
  static std::mt19937 rng(std::random_device{}());
  const int exponent = std::min(failed_attempts, 6);
  const int cap_ms = std::min(1000 << exponent, kMaxBackoffSeconds * 1000);
  std::uniform_int_distribution<int> jitter(cap_ms / 2, cap_ms);
  return std::chrono::milliseconds(jitter(rng));
}

void strophe_log(void*, xmpp_log_level_t level, const char* area, const char* message) {
  const LogLevel ours = level == XMPP_LEVEL_ERROR ? LogLevel::warn : LogLevel::debug;
  MUSTER_LOG(ours, "xmpp %s: %s", area, message);
}

InboundIq read_iq(xmpp_stanza_t* stanza) {
  InboundIq iq;
  iq.type = proto::attribute(stanza, "type");
  iq.id = proto::attribute(stanza, "id");
  iq.from = proto::attribute(stanza, "from");
  iq.ping = xmpp_stanza_get_child_by_name_and_ns(stanza, "ping", kPingNs) != nullptr;
  iq.task = proto::payload_text(stanza, proto::kTaskElement);
  iq.cancel = proto::payload_text(stanza, proto::kCancelElement);
  if (iq.type == "error") iq.error = proto::error_description(stanza);
  return iq;
}

}  // namespace

xmpp_log_t* strophe_logger() {
  static xmpp_log_t logger = {strophe_log, nullptr};
  return &logger;
}

StropheConnection::StropheConnection(xmpp_ctx_t* shared_ctx) : ctx_(shared_ctx), owns_ctx_(shared_ctx == nullptr) {}

StropheConnection::~StropheConnection() {
  if (conn_ != nullptr) xmpp_conn_release(conn_);
  if (owns_ctx_ && ctx_ != nullptr) {
    xmpp_ctx_free(ctx_);
    xmpp_shutdown();
  }
}

void StropheConnection::open(const ClientLogin& login, ConnectionEvents& events) {
  login_ = login;
  events_ = &events;
  if (owns_ctx_) {
    xmpp_initialize();
    ctx_ = xmpp_ctx_new(nullptr, strophe_logger());
  }
  conn_ = xmpp_conn_new(ctx_);
  xmpp_conn_set_flags(conn_, XMPP_CONN_FLAG_MANDATORY_TLS);
  xmpp_conn_set_cafile(conn_, login_.ca_file.c_str());
  const std::string full_jid = login_.jid + "/" + login_.resource;
  xmpp_conn_set_jid(conn_, full_jid.c_str());
  xmpp_conn_set_pass(conn_, login_.password.c_str());
  xmpp_conn_set_sockopt_callback(conn_, platform::configure_xmpp_socket);
  xmpp_handler_add(conn_, on_iq, nullptr, "iq", nullptr, this);
  xmpp_handler_add(conn_, on_presence, nullptr, "presence", nullptr, this);
}

void StropheConnection::step() {
  if (!stopping_ && !connected_ && !connecting_ && Clock::now() >= next_attempt_) connect();
}

void StropheConnection::run_once(int timeout_ms) { xmpp_run_once(ctx_, static_cast<unsigned long>(timeout_ms)); }

void StropheConnection::connect() {
  connecting_ = true;
  LOG_INFO("connecting to %s:%u as %s", login_.host.c_str(), login_.port, login_.jid.c_str());
  if (xmpp_connect_client(conn_, login_.host.c_str(), login_.port, on_connection_event, this) != XMPP_EOK) {
    handle_disconnected(-1);
  }
}

void StropheConnection::stop() {
  stopping_ = true;
  if (connected_ || connecting_) xmpp_disconnect(conn_);
}

void StropheConnection::on_connection_event(xmpp_conn_t*, xmpp_conn_event_t event, int error, xmpp_stream_error_t*,
                                            void* self) {
  auto* link = static_cast<StropheConnection*>(self);
  if (event == XMPP_CONN_CONNECT) {
    link->handle_connected();
  } else if (event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL) {
    link->handle_disconnected(error);
  }
}

void StropheConnection::handle_connected() {
  connected_ = true;
  connecting_ = false;
  failed_attempts_ = 0;
  LOG_INFO("connected (TLS %s)", xmpp_conn_is_secured(conn_) ? "on" : "OFF");
  events_->on_connected();
}

void StropheConnection::handle_disconnected(int error) {
  const bool was_connected = connected_;
  connected_ = false;
  connecting_ = false;
  events_->on_disconnected();
  if (!was_connected) ++failed_attempts_;
  if (stopping_) {
    LOG_INFO("disconnected");
    return;
  }
  const auto delay = backoff_delay(failed_attempts_);
  next_attempt_ = Clock::now() + delay;
  LOG_WARN("%s (error %d); next attempt in %lld ms", was_connected ? "disconnected" : "connection failed", error,
           static_cast<long long>(delay.count()));
}

int StropheConnection::on_iq(xmpp_conn_t*, xmpp_stanza_t* stanza, void* self) {
  static_cast<StropheConnection*>(self)->events_->on_iq(read_iq(stanza));
  return 1;
}

int StropheConnection::on_presence(xmpp_conn_t*, xmpp_stanza_t* stanza, void* self) {
  InboundPresence presence{proto::attribute(stanza, "from"), proto::attribute(stanza, "type")};
  static_cast<StropheConnection*>(self)->events_->on_presence(presence);
  return 1;
}

void StropheConnection::send_payload_iq(const char* type, const std::string& id, const std::string& to,
                                        const char* element, const std::string& json) {
  auto iq = proto::make_payload_iq(ctx_, type, id, to, element, json);
  xmpp_send(conn_, iq.get());
}

void StropheConnection::send_payload_message(const std::string& to, const char* element, const std::string& json) {
  auto message = proto::make_payload_message(ctx_, to, element, json);
  xmpp_send(conn_, message.get());
}

void StropheConnection::send_facts_presence(const std::string& to, const std::string& json) {
  auto presence = proto::make_facts_presence(ctx_, to, json);
  xmpp_send(conn_, presence.get());
}

void StropheConnection::send_unavailable_presence(const std::string& to) {
  proto::StanzaRef presence(xmpp_presence_new(ctx_));
  xmpp_stanza_set_type(presence.get(), "unavailable");
  xmpp_stanza_set_to(presence.get(), to.c_str());
  xmpp_send(conn_, presence.get());
}

void StropheConnection::send_iq_result(const std::string& id, const std::string& to) {
  auto iq = proto::make_iq_result(ctx_, id, to);
  xmpp_send(conn_, iq.get());
}

void StropheConnection::send_iq_error(const std::string& id, const std::string& to, const char* error_type,
                                      const char* condition, const std::string& text) {
  auto iq = proto::make_iq_error(ctx_, id, to, error_type, condition, text);
  xmpp_send(conn_, iq.get());
}

void StropheConnection::send_ping(const std::string& id, const std::string& to) {
  proto::StanzaRef iq(xmpp_iq_new(ctx_, "get", id.c_str()));
  xmpp_stanza_set_to(iq.get(), to.c_str());
  xmpp_stanza_t* ping = xmpp_stanza_new(ctx_);
  xmpp_stanza_set_name(ping, "ping");
  xmpp_stanza_set_ns(ping, kPingNs);
  xmpp_stanza_add_child(iq.get(), ping);
  xmpp_stanza_release(ping);
  xmpp_send(conn_, iq.get());
}

void StropheConnection::disconnect() { xmpp_disconnect(conn_); }

}  // namespace muster::agent
