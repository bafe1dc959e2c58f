#pragma once
// The agent's run loop: one XMPP client connection to its region's server,
// tasks accepted only from its master, results kept until acknowledged.
#include <chrono>
#include <csignal>
#include <map>
#include <string>

#include <strophe.h>

#include "journal.hpp"
#include "muster/proto/signing.hpp"
#include "spool.hpp"
#include "state.hpp"
#include "task_runner.hpp"

namespace muster::agent {

// libstrophe's log output routed to the agent's log.
xmpp_log_t* strophe_logger();

class Agent {
 public:
  using Clock = std::chrono::steady_clock;

  // `task_user`: the account tasks run as when the agent runs as root
  // (LocalSystem on Windows).
  // `shared_ctx`: a libstrophe context owned by the caller, for many agents
  // in one event loop (bench/swarm); null means the agent owns its own.
  Agent(StatePaths paths, AgentState state, std::string task_user, xmpp_ctx_t* shared_ctx = nullptr);
  ~Agent();
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Loads journal and spool; fails if the state directory is unusable.
  proto::Status open();
  // Runs until *stop becomes non-zero (set from a signal handler).
  void run(const volatile std::sig_atomic_t* stop);

  // The pieces of run() for a caller that drives a shared context:
  // step() after each xmpp_run_once(); busy() asks for short waits.
  void step();
  bool busy() const { return runner_.active(); }
  // How long run() may wait for the network: 1 ms while a task's answer
  // waits to be combined with its result (quick tasks end within a few ms,
  // and every ms of polling is latency), 5 ms while tasks run (their pipes
  // are not in libstrophe's poll set), else 1 s.
  int poll_timeout_ms() const { return !pending_acks_.empty() ? 1 : busy() ? 5 : 1000; }
  bool connected() const { return connected_; }
  // Spreads a swarm's first logins over time instead of all at once.
  void connect_not_before(Clock::time_point when) { next_attempt_ = when; }
  // Answers tasks with an immediate success instead of running them, so a
  // benchmark measures dispatch, not process start-up.
  void use_builtin_noop() { runner_.use_builtin_noop(); }
  // Aborts running tasks, says goodbye and starts the disconnect;
  // stopped() turns true once the stream is closed.
  void request_stop();
  bool stopped() const { return !connected_ && !connecting_; }

 private:

  static void on_connection_event(xmpp_conn_t* conn, xmpp_conn_event_t event, int error,
                                  xmpp_stream_error_t* stream_error, void* self);
  static int on_iq(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* self);
  static int on_presence(xmpp_conn_t* conn, xmpp_stanza_t* stanza, void* self);

  void connect();
  void handle_connected();
  void announce();
  void handle_disconnected(int error);
  void handle_task(xmpp_stanza_t* iq, const std::string& id);
  void acknowledge_late_tasks(Clock::time_point now);
  void handle_cancel(xmpp_stanza_t* iq, const std::string& id, const std::string& payload);
  // `started_at`: when it started, if it did (unix time; 0: it never ran).
  void report_unrun(const std::string& task_id, const std::string& job_id, proto::TaskOutcome state,
                    const std::string& why, double started_at = 0);
  void keep_result(const proto::TaskResult& result);
  void handle_result_reply(xmpp_stanza_t* iq, const std::string& task_id, bool acknowledged);
  void send_result(const std::string& task_id, Spool::Entry& entry);
  void resend_stale_results(Clock::time_point now);
  void send_ping_to_server(Clock::time_point now);
  void refuse(const std::string& id, const std::string& to, const char* type, const char* condition,
              const std::string& text);
  bool from_master(xmpp_stanza_t* stanza) const;

  StatePaths paths_;
  AgentState state_;
  Journal journal_;
  std::optional<proto::Verifier> verifier_;
  Spool spool_;
  TaskRunner runner_;
  xmpp_ctx_t* ctx_ = nullptr;
  bool owns_ctx_ = true;
  bool stopping_ = false;
  xmpp_conn_t* conn_ = nullptr;
  bool connected_ = false;
  bool connecting_ = false;
  int failed_attempts_ = 0;
  Clock::time_point next_attempt_{};
  Clock::time_point last_resend_scan_{};
  Clock::time_point last_ping_sent_{};
  std::string outstanding_ping_;
  // Task iqs not answered yet: a task that ends within a short window is
  // answered with its result in one stanza; others get a plain ack then.
  struct PendingAck {
    std::string iq_id;
    std::string from;
    Clock::time_point deadline;
  };
  std::map<std::string, PendingAck> pending_acks_;  // by task id
  unsigned long ping_counter_ = 0;
};

}  // namespace muster::agent
