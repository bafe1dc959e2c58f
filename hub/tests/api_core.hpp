#pragma once
// The api role's services over a store, wired as muster-hub wires them, for
// tests of the HTTP layer. `config` must outlive it.
#include <memory>

#include "api/routes.hpp"
#include "core/api_keys.hpp"
#include "store/redis_api_store.hpp"

namespace muster::hub::testing {

struct ApiCore {
  ApiCore(std::unique_ptr<Store> redis, const HubConfig& config)
      : store(std::move(redis)),
        api_store(*store),
        auth(api_store, config.tenant_quotas),
        audit(api_store),
        keys(ApiKeys::load(config)),
        agents(api_store, auth, config, keys),
        jobs(api_store, agents, config, keys),
        tenants(api_store, auth, agents, config),
        services{config, *store, auth, agents, jobs, audit, tenants} {}

  std::unique_ptr<Store> store;
  RedisApiStore api_store;
  Auth auth;
  Audit audit;
  ApiKeys keys;
  Agents agents;
  Jobs jobs;
  Tenants tenants;
  ApiServices services;
};

}  // namespace muster::hub::testing
