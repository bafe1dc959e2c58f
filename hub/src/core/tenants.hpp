#pragma once
// Tenants, managed by platform tokens: create (with the tenant's first admin
// token), list, read, change state and quotas, delete. A suspended tenant's
// tokens get 403, its running jobs are cancelled, and then its agents are
// refused by the masters. Deleting revokes its agents and tokens for good; the name
// stays taken, since its jobs and audit trail are kept under it.
#include <chrono>
#include <string>

#include "config.hpp"
#include "core/agents.hpp"
#include "core/auth.hpp"
#include "store/api_store.hpp"

namespace muster::hub {

inline constexpr const char* kTenantActive = "active";
inline constexpr const char* kTenantSuspended = "suspended";
inline constexpr const char* kTenantDeleted = "deleted";

// Store keys carry the name inside a hash tag, so braces may not appear.
bool valid_tenant_name(const std::string& name);
// The tenant record's own quotas, `defaults` where it sets none.
TenantQuotas tenant_quotas(const Record& tenant, const TenantQuotas& defaults);

class Tenants {
 public:
  // `settle`: how long suspending or deleting waits for the agents to confirm
  // the cancelled tasks of the tenant's running jobs before they are refused.
  Tenants(ApiStore& store, Auth& auth, Agents& agents, const HubConfig& config,
          std::chrono::milliseconds settle = std::chrono::seconds(10))
      : store_(store), auth_(auth), agents_(agents), config_(config), settle_(settle) {}

  // POST /tenants {"name", "quotas": {...}, "admin_token_ttl_s"}: 409 when
  // the name was ever used. Returns the tenant and its first admin token.
  std::string create(const Principal& principal, const std::string& body);
  std::string list_json(const Principal& principal);
  std::string get_json(const Principal& principal, const std::string& name);
  // PATCH /tenants/{name} {"state": "active"|"suspended", "quotas": {...}}.
  std::string update(const Principal& principal, const std::string& name, const std::string& body);
  // DELETE /tenants/{name}: may be repeated to finish one that stopped halfway
  // (a master that did not answer a revocation).
  std::string remove(const Principal& principal, const std::string& name);

 private:
  Record load(const std::string& name);
  void refuse_own(const Principal& principal, const std::string& name, const char* what);
  // Cancels the tenant's running jobs, waits up to `settle` for them to end;
  // returns how many are still running.
  std::size_t cancel_running_jobs(const std::string& name);
  proto::JsonPtr tenant_json(const std::string& name, const Record& record);

  ApiStore& store_;
  Auth& auth_;
  Agents& agents_;
  const HubConfig& config_;
  std::chrono::milliseconds settle_;
};

}  // namespace muster::hub
