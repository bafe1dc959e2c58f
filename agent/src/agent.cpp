#include "agent.hpp"

#include "log.hpp"
#include "muster/proto/messages.hpp"

namespace muster::agent {

Agent::Agent(StatePaths paths, AgentState state, std::string task_user, xmpp_ctx_t* shared_ctx)
    : paths_(std::move(paths)),
      state_(std::move(state)),
      link_(shared_ctx),
      session_(link_, paths_, state_, std::move(task_user)) {}

proto::Status Agent::open() {
  if (auto opened = session_.open(); !opened) return opened;
  ClientLogin login;
  login.jid = state_.enrollment.jid;
  login.resource = proto::kAgentResource;
  login.password = state_.enrollment.password;
  login.ca_file = paths_.xmpp_ca_file();
  login.host = state_.enrollment.xmpp_host;
  login.port = static_cast<unsigned short>(state_.enrollment.xmpp_port);
  link_.open(login, session_);
  return proto::Ok{};
}

void Agent::step() {
  if (link_.stopping()) return;
  link_.step();
  session_.tick();
}

void Agent::run(const volatile std::sig_atomic_t* stop) {
  while (*stop == 0) {
    // Short waits only while tasks run; an idle agent wakes once a second.
    link_.run_once(poll_timeout_ms());
    step();
  }
  request_stop();
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (!stopped() && Clock::now() < deadline) link_.run_once(50);
}

void Agent::request_stop() {
  if (link_.stopping()) return;
  LOG_INFO("stopping");
  session_.stop();
  link_.stop();
}

}  // namespace muster::agent
