#pragma once
// The agent's run loop: its protocol Session on a libstrophe client link to
// its region's server.
#include <chrono>
#include <csignal>
#include <string>

#include <strophe.h>

#include "muster/proto/result.hpp"
#include "session.hpp"
#include "state.hpp"
#include "strophe_connection.hpp"

namespace muster::agent {

class Agent {
 public:
  using Clock = std::chrono::steady_clock;

  // `task_user`: the account tasks run as when the agent runs as root
  // (LocalSystem on Windows).
  // `shared_ctx`: a libstrophe context owned by the caller, for many agents
  // in one event loop (bench/swarm); null means the agent owns its own.
  Agent(StatePaths paths, AgentState state, std::string task_user, xmpp_ctx_t* shared_ctx = nullptr);
  Agent(const Agent&) = delete;
  Agent& operator=(const Agent&) = delete;

  // Loads journal and spool; fails if the state directory is unusable.
  proto::Status open();
  // Runs until *stop becomes non-zero (set from a signal handler).
  void run(const volatile std::sig_atomic_t* stop);

  // The pieces of run() for a caller that drives a shared context:
  // step() after each xmpp_run_once(); busy() asks for short waits.
  void step();
  bool busy() const { return session_.busy(); }
  // How long run() may wait for the network (Session::poll_timeout_ms).
  int poll_timeout_ms() const { return session_.poll_timeout_ms(); }
  bool connected() const { return link_.connected(); }
  // Spreads a swarm's first logins over time instead of all at once.
  void connect_not_before(Clock::time_point when) { link_.connect_not_before(when); }
  // Answers tasks with an immediate success instead of running them, so a
  // benchmark measures dispatch, not process start-up.
  void use_builtin_noop() { session_.use_builtin_noop(); }
  // Aborts running tasks, says goodbye and starts the disconnect;
  // stopped() turns true once the stream is closed.
  void request_stop();
  bool stopped() const { return link_.stopped(); }

 private:
  StatePaths paths_;
  AgentState state_;
  StropheConnection link_;
  Session session_;
};

}  // namespace muster::agent
