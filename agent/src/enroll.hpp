#pragma once
#include <string>

#include "muster/proto/json.hpp"
#include "muster/proto/result.hpp"
#include "state.hpp"

namespace muster::agent {

struct EnrollOptions {
  std::string hub_url;
  std::string token;
  std::string ca_file;
  proto::StringMap labels;
  std::string state_dir;
};

// Posts this machine's facts to the hub and stores what it answers.
proto::Result<AgentState> enroll(const EnrollOptions& options);

}  // namespace muster::agent
