#pragma once
// The agent's configuration file, for unattended installs (the Linux packages
// ship it as /etc/muster/agent.conf): where the hub is, how to trust it, and
// a one-time enrollment token. Lines are `key = value`; `#` and `;` start
// comments; unknown keys are refused so a typo is never silently ignored.
#include <string>

#include "muster/proto/json.hpp"
#include "muster/proto/result.hpp"

namespace muster::agent {

struct AgentConfig {
  std::string hub_url;       // hub_url: https://hub.example:8443
  std::string ca_file;       // ca_file: CA of the hub's HTTPS certificate
  std::string enroll_token;  // enroll_token: used once, then emptied in the file
  proto::StringMap labels;   // labels: KEY=VALUE, KEY=VALUE
  std::string state_dir;     // state_dir, task_user, log_level: as the flags
  std::string task_user;
  std::string log_level;
};

proto::Result<AgentConfig> parse_agent_config(const std::string& text, const std::string& origin);
// One line per key, "  name  what it means", for `muster-agent help`.
std::string agent_config_reference();
proto::Result<AgentConfig> load_agent_config(const std::string& path);

// The file's text with the value of `enroll_token` removed and `note` put as
// a comment above it; every other line is kept as it was.
std::string without_enroll_token(const std::string& text, const std::string& note);
// Rewrites `path` that way (atomically, readable only by this user).
proto::Status forget_enroll_token(const std::string& path, const std::string& note);

}  // namespace muster::agent
