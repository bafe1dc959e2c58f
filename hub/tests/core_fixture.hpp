#pragma once
// The api's core services (Auth, Agents, Jobs, Tenants) over the in-memory
// api store, with two regions of two shards each.
#include <gtest/gtest.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "core/agents.hpp"
#include "core/api_keys.hpp"
#include "core/auth.hpp"
#include "core/errors.hpp"
#include "core/jobs.hpp"
#include "core/tenants.hpp"
#include "memory_api_store.hpp"
#include "muster/proto/messages.hpp"

namespace muster::hub::testing {

// Runs `call` and returns the ApiError it throws (status 0 if none).
template <class Fn>
inline ApiError refusal(Fn call) {
  try {
    call();
  } catch (const ApiError& e) {
    return e;
  }
  return ApiError(0, "", "");
}

class CoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/muster-hub-core-XXXXXX";
    key_dir_ = ::mkdtemp(dir);
    config_.signing_key = key_dir_ + "/signing-key.pem";
    for (const char* name : {"eu", "us"}) {
      RegionConfig region;
      region.name = name;
      region.xmpp_domain = std::string(name) + ".example";
      region.xmpp_ca_file = "/dev/null";
      region.shards = {std::string("s0.") + name + ".example", std::string("s1.") + name + ".example"};
      config_.regions.push_back(region);
    }
    keys_ = ApiKeys::load(config_);
    auth_ = std::make_unique<Auth>(store_, config_.tenant_quotas);
    agents_ = std::make_unique<Agents>(store_, *auth_, config_, keys_);
    jobs_ = std::make_unique<Jobs>(store_, *agents_, config_, keys_);
    tenants_ = std::make_unique<Tenants>(store_, *auth_, *agents_, config_, std::chrono::milliseconds(0));
  }
  void TearDown() override { std::system(("rm -rf " + key_dir_).c_str()); }

  Principal principal(const std::string& tenant, Role role) {
    return auth_->authenticate("Bearer " + auth_->create_api_token(tenant, role, 3600).token);
  }
  // Enrolls an agent through the api (the master's answer is the store's).
  std::string enroll(const std::string& tenant, const proto::StringMap& labels, const std::string& region = "eu") {
    const auto token = auth_->create_enroll_token(tenant, labels, 1, 3600, region);
    const Principal p = auth_->authenticate("Bearer " + token.token);
    return agents_->enroll(p, proto::encode(proto::Facts{"host", "linux", "x86_64", "6.1", "1.0", {}})).uuid;
  }
  std::string hash_of(const std::string& token) { return auth_->authenticate("Bearer " + token).token_hash; }
  std::size_t queued() {
    std::size_t n = 0;
    for (const auto& [shard, entries] : store_.queues) n += entries.size();
    return n;
  }

  std::string key_dir_;
  HubConfig config_;
  ApiKeys keys_;
  MemoryApiStore store_;
  std::unique_ptr<Auth> auth_;
  std::unique_ptr<Agents> agents_;
  std::unique_ptr<Jobs> jobs_;
  std::unique_ptr<Tenants> tenants_;
};

}  // namespace muster::hub::testing
