#pragma once
// Agent records and enrollment (api role).
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "config.hpp"
#include "core/api_keys.hpp"
#include "core/auth.hpp"
#include "core/page.hpp"
#include "muster/proto/messages.hpp"
#include "store/api_store.hpp"

namespace muster::hub {

class Agents {
 public:
  Agents(ApiStore& store, Auth& auth, const HubConfig& config, const ApiKeys& keys);

  // Validates the facts in `body`, has the region's master create the XMPP
  // account, records the agent and returns its credentials.
  proto::Enrollment enroll(const Principal& principal, const std::string& body);
  // JSON of one agent of the caller's tenant; ApiError 404 otherwise.
  std::string get_json(const Principal& principal, const std::string& agent_id);
  // A page in id order: {"agents", "total", "next_cursor"}.
  std::string list_json(const Principal& principal, const Page& page);
  // Deletes the agent's XMPP account and ends its session (through its
  // master), and makes the hub refuse it from now on.
  std::string revoke(const Principal& principal, const std::string& agent_id);

  // Agent ids of the tenant and their records, oldest enrollment first.
  IdRecords load_all(const std::string& tenant);
  // The same for the listed ids only, in one round trip: a job to a few named
  // agents must not read the whole fleet. Ids that are not agents of the
  // tenant (unknown, revoked, another tenant's) are left out.
  IdRecords load_listed(const std::string& tenant, const std::vector<std::string>& ids);
  // The tenant's agents that carry every one of `labels`, by the label index.
  std::vector<std::string> ids_with_labels(const std::string& tenant, const proto::StringMap& labels);

 private:
  // The part of enroll() after the token's use is taken: account, record, credentials.
  proto::Enrollment register_agent(const Principal& principal, const proto::Facts& facts,
                                   const proto::StringMap& labels, const RegionConfig& region);
  // Sends a control request to the shard's master and waits for its answer.
  void ask_master(const std::string& shard, const std::string& op, const std::string& jid,
                  const std::string& password);
  // Indexes the labels of agents enrolled before the index existed, once.
  void ensure_agent_indexes();

  ApiStore& store_;
  Auth& auth_;
  const HubConfig& config_;
  const ApiKeys& keys_;
  std::map<std::string, std::string> ca_pem_;  // per region
  std::mutex agent_indexes_mutex_;
  bool agent_indexes_ready_ = false;
};

// The agent's public JSON from its store fields.
proto::JsonPtr agent_json(const std::string& agent_id, const Record& fields);
proto::StringMap agent_labels(const Record& fields);

}  // namespace muster::hub
