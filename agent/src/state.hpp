#pragma once
// What enrollment gave this agent, kept in <state dir>/agent.json (mode 0600).
#include <string>

#include "muster/proto/messages.hpp"

namespace muster::agent {

struct AgentState {
  proto::Enrollment enrollment;
  std::string hub_url;
  proto::StringMap labels;
};

struct StatePaths {
  explicit StatePaths(std::string state_dir) : dir(std::move(state_dir)) {}
  std::string dir;
  std::string state_file() const { return dir + "/agent.json"; }
  std::string xmpp_ca_file() const { return dir + "/xmpp-ca.pem"; }
  std::string journal_file() const { return dir + "/journal"; }
  std::string spool_dir() const { return dir + "/spool"; }
};

proto::Status save_state(const StatePaths& paths, const AgentState& state);
proto::Result<AgentState> load_state(const StatePaths& paths);

}  // namespace muster::agent
