#pragma once
// The agent's run loop: one XMPP client connection to its region's server,
// tasks accepted only from its master, results kept until acknowledged.
#include <chrono>
#include <csignal>
#include <string>

#include <strophe.h>

#include "journal.hpp"
#include "muster/proto/signing.hpp"
#include "spool.hpp"
#include "state.hpp"
#include "task_runner.hpp"

namespace muster::agent {

class Agent {
 public:
  // `task_user`: the account tasks run as when the agent runs as root.
  Agent(StatePaths paths, AgentState state, std::string task_user);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Loads journal and spool; fails if the state directory is unusable.
  proto::Status open();
  // Runs until *stop becomes non-zero (set from a signal handler).
  void run(const volatile std::sig_atomic_t* stop);

 private:
  using Clock = std::chrono::steady_clock;

  static void on_connection_event(xmpp_conn_t* conn, xmpp_conn_event_t event, int error,
                                  xmpp_stream_error_t* stream_error, void* self);
  static int on_iq(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* self);
  static int on_presence(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* self);

  void connect();
  void handle_connected();
  void announce();
  void handle_disconnected(int error);
  void handle_task(xmpp_stanza_t* iq, const std::string& id);
  void handle_cancel(xmpp_stanza_t* iq, const std::string& id, const std::string& payload);
  void report_unrun(const std::string& task_id, const std::string& job_id, proto::TaskOutcome state,
                    const std::string& why);
  void keep_result(const proto::TaskResult& result);
  void handle_result_reply(xmpp_stanza_t* iq, const std::string& task_id, bool acknowledged);
  void send_result(const std::string& task_id, Spool::Entry& entry);
  void resend_stale_results(Clock::time_point now);
  void send_ping_to_server(Clock::time_point now);
  void refuse(const std::string& id, const std::string& to, const char* type, const char* condition,
              const std::string& text);
  bool from_master(xmpp_stanza_t* stanza) const;
  void shutdown();

  StatePaths paths_;
  AgentState state_;
  Journal journal_;
  std::optional<proto::Verifier> verifier_;
  Spool spool_;
  TaskRunner runner_;
  xmpp_ctx_t* ctx_ = nullptr;
  xmpp_conn_t* conn_ = nullptr;
  bool connected_ = false;
  bool connecting_ = false;
  int failed_attempts_ = 0;
  Clock::time_point next_attempt_{};
  Clock::time_point last_resend_scan_{};
  Clock::time_point last_ping_sent_{};
  std::string outstanding_ping_;
  unsigned long ping_counter_ = 0;
};

}  // namespace muster::agent
