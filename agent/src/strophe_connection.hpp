#pragma once
// The agent's XMPP client link on libstrophe: mandatory TLS against the
// enrollment's CA, reconnects with capped backoff, stanzas turned into
// ConnectionEvents values.
#include <chrono>
#include <string>

#include <strophe.h>

#include "connection.hpp"

namespace muster::agent {

// libstrophe's log output routed to the agent's log.
xmpp_log_t* strophe_logger();

struct ClientLogin {
  std::string jid;  // bare
  std::string resource;
  std::string password;
  std::string ca_file;
  std::string host;
  unsigned short port = 5222;
};

class StropheConnection : public Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // `shared_ctx`: a libstrophe context owned by the caller, for many agents
  // in one event loop; null means this connection owns its own.
  explicit StropheConnection(xmpp_ctx_t* shared_ctx = nullptr);
  ~StropheConnection() override;
  StropheConnection(const StropheConnection&) = delete;
  StropheConnection& operator=(const StropheConnection&) = delete;

  // Sets up the connection; step() then connects. `events` must outlive it.
  void open(const ClientLogin& login, ConnectionEvents& events);
  // Connects when neither connected nor trying and the backoff has passed.
  void step();
  // Waits up to `timeout_ms` for network events and handles them.
  void run_once(int timeout_ms);
  // No more reconnects; closes the stream (or the attempt).
  void stop();
  bool stopping() const { return stopping_; }
  bool stopped() const { return !connected_ && !connecting_; }
  bool connected() const { return connected_; }
  void connect_not_before(Clock::time_point when) { next_attempt_ = when; }

  void send_payload_iq(const char* type, const std::string& id, const std::string& to, const char* element,
                       const std::string& json) override;
  void send_payload_message(const std::string& to, const char* element, const std::string& json) override;
  void send_facts_presence(const std::string& to, const std::string& json) override;
  void send_unavailable_presence(const std::string& to) override;
  void send_iq_result(const std::string& id, const std::string& to) override;
  void send_iq_error(const std::string& id, const std::string& to, const char* error_type, const char* condition,
                     const std::string& text) override;
  void send_ping(const std::string& id, const std::string& to) override;
  void disconnect() override;

 private:
  static void on_connection_event(xmpp_conn_t* conn, xmpp_conn_event_t event, int error,
                                  xmpp_stream_error_t* stream_error, void* self);
  static int on_iq(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* self);
  static int on_presence(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* self);

  void connect();
  void handle_connected();
  void handle_disconnected(int error);

  xmpp_ctx_t* ctx_ = nullptr;
  bool owns_ctx_ = true;
  xmpp_conn_t* conn_ = nullptr;
  ConnectionEvents* events_ = nullptr;
  ClientLogin login_;
  bool stopping_ = false;
  bool connected_ = false;
  bool connecting_ = false;
  int failed_attempts_ = 0;
  Clock::time_point next_attempt_{};
};

}  // namespace muster::agent
