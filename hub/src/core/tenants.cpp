#include "core/tenants.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "core/errors.hpp"

namespace muster::hub {
namespace {

constexpr std::size_t kMaxTenantName = 63;
constexpr std::size_t kJobPageSize = 500;
constexpr std::int64_t kMaxQuota = 100000000;
constexpr std::int64_t kDefaultAdminTokenTtl = 30LL * 86400;

struct QuotaField {
  const char* json;
  const char* record;
  long TenantQuotas::*member;
};
constexpr QuotaField kQuotaFields[] = {{"agents", "quota_agents", &TenantQuotas::agents},
                                       {"jobs_per_minute", "quota_jobs_per_minute", &TenantQuotas::jobs_per_minute},
                                       {"streams", "quota_streams", &TenantQuotas::streams}};

[[noreturn]] void bad_request(const proto::FieldReader& r) {
  throw ApiError(400, proto::to_string(r.error()->code), r.error()->message);
}

// The "quotas" object of a request, as record fields (only those given).
Record quota_changes(const cJSON* quotas) {
  Record changes;
  if (quotas == nullptr) return changes;
  proto::FieldReader r(quotas, "quotas");
  r.only({"agents", "jobs_per_minute", "streams"}).no_nulls();
  for (const auto& q : kQuotaFields) {
    std::optional<std::int64_t> value;
    r.optional(q.json, value, 0, kMaxQuota);
    if (value) changes.fields[q.record] = std::to_string(*value);
  }
  if (!r.ok()) bad_request(r);
  return changes;
}

proto::JsonPtr quotas_json(const TenantQuotas& q) {
  proto::JsonBuilder b;
  for (const auto& f : kQuotaFields) b.add(f.json, static_cast<std::int64_t>(q.*f.member));
  return b.release();
}

std::int64_t to_int(const std::optional<std::string>& text) {
  try {
    return text && !text->empty() ? std::stoll(*text) : 0;
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

bool valid_tenant_name(const std::string& name) {
  if (name.empty() || name.size() > kMaxTenantName) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return name.front() != '-' && name.front() != '_';
}

TenantQuotas tenant_quotas(const Record& tenant, const TenantQuotas& defaults) {
  TenantQuotas q = defaults;
  for (const auto& f : kQuotaFields) {
    if (const auto v = tenant.field(f.record); v && !v->empty()) q.*f.member = static_cast<long>(to_int(v));
  }
  return q;
}

Record Tenants::load(const std::string& name) {
  Record record = valid_tenant_name(name) ? store_.tenant(name) : Record{};
  if (record.empty()) throw ApiError(404, "not_found", "no tenant " + name.substr(0, kMaxTenantName + 1));
  return record;
}

void Tenants::refuse_own(const Principal& principal, const std::string& name, const char* what) {
  if (principal.tenant == name) {
    throw ApiError(409, "conflict", std::string("a token cannot ") + what + " its own tenant " + name);
  }
}

proto::JsonPtr Tenants::tenant_json(const std::string& name, const Record& record) {
  return proto::JsonBuilder()
      .add("name", name)
      .add("state", record.field("state").value_or(kTenantActive))
      .add("created_at", to_int(record.field("created_at")))
      .add_node("quotas", quotas_json(tenant_quotas(record, config_.tenant_quotas)))
      .add("agents", static_cast<std::int64_t>(store_.tenant_agent_count(name)))
      .release();
}

std::string Tenants::create(const Principal& principal, const std::string& body) {
  require_role(principal, Role::platform);
  auto root = proto::parse_object(body);
  if (!root) throw ApiError(400, proto::to_string(root.error().code), root.error().message);
  std::string name;
  std::int64_t ttl_s = kDefaultAdminTokenTtl;
  const cJSON* quotas = nullptr;
  proto::FieldReader r(root->get(), "");
  r.only({"name", "quotas", "admin_token_ttl_s"})
      .no_nulls()
      .required("name", name, kMaxTenantName)
      .optional("admin_token_ttl_s", ttl_s, 60, 366LL * 86400)
      .optional_object("quotas", quotas);
  if (r.ok() && !valid_tenant_name(name)) {
    r.fail(proto::ErrorCode::invalid_field, "name must be 1-63 of a-z, 0-9, '-' and '_', starting with a letter or digit");
  }
  if (!r.ok()) bad_request(r);
  Record record = quota_changes(quotas);
  record.fields["state"] = kTenantActive;
  record.fields["created_at"] = std::to_string(unix_seconds());
  record.fields["created_by"] = principal.token_id;
  if (!store_.create_tenant(name, record)) throw ApiError(409, "conflict", "the tenant name " + name + " is taken");

  const NewToken admin = auth_.create_api_token(name, Role::admin, ttl_s);
  return proto::JsonBuilder()
      .add_node("tenant", tenant_json(name, store_.tenant(name)))
      .add_node("admin_token", proto::JsonBuilder()
                                   .add("token", admin.token)
                                   .add("id", admin.id)
                                   .add("expires_at", admin.expires_at)
                                   .release())
      .dump();
}

std::string Tenants::list_json(const Principal& principal) {
  require_role(principal, Role::platform);
  proto::JsonPtr list(cJSON_CreateArray());
  for (const auto& [name, record] : store_.tenants()) {
    cJSON_AddItemToArray(list.get(), tenant_json(name, record).release());
  }
  return proto::JsonBuilder().add_node("tenants", std::move(list)).dump();
}

std::string Tenants::get_json(const Principal& principal, const std::string& name) {
  require_role(principal, Role::platform);
  return proto::dump(tenant_json(name, load(name)).get());
}

std::string Tenants::update(const Principal& principal, const std::string& name, const std::string& body) {
  require_role(principal, Role::platform);
  const Record current = load(name);
  auto root = proto::parse_object(body);
  if (!root) throw ApiError(400, proto::to_string(root.error().code), root.error().message);
  std::optional<std::string> state;
  const cJSON* quotas = nullptr;
  proto::FieldReader r(root->get(), "");
  r.only({"state", "quotas"}).no_nulls().optional("state", state, 16).optional_object("quotas", quotas);
  if (r.ok() && state && *state != kTenantActive && *state != kTenantSuspended) {
    r.fail(proto::ErrorCode::invalid_field, "state must be active or suspended");
  }
  if (!r.ok()) bad_request(r);
  Record changes = quota_changes(quotas);
  const std::string was = current.field("state").value_or(kTenantActive);
  if (was == kTenantDeleted) throw ApiError(409, "conflict", "tenant " + name + " was deleted");
  if (state && *state != was) {
    if (*state == kTenantSuspended) refuse_own(principal, name, "suspend");
    changes.fields["state"] = *state;
  }
  if (!changes.empty()) store_.update_tenant(name, changes);
  if (state && *state != was) {
    // Tokens are refused from the record on; running jobs and agents follow.
    const bool suspend = *state == kTenantSuspended;
    if (suspend) cancel_running_jobs(name);
    store_.refuse_tenant_agents(name, suspend);
  }
  return proto::dump(tenant_json(name, store_.tenant(name)).get());
}

std::size_t Tenants::cancel_running_jobs(const std::string& name) {
  std::vector<std::string> cancelled;
  std::optional<std::string> before;
  for (;;) {
    const auto page = store_.tenant_jobs(name, before, kJobPageSize);
    for (const auto& [id, job] : page.jobs) {
      if (job.field("state") == "running") {
        store_.cancel_job(id);
        cancelled.push_back(id);
      }
    }
    if (page.scanned < kJobPageSize) break;
    before = page.last_created_at;
  }
  // The agents confirm their cancelled tasks before they are refused; a job
  // whose agent is away ends when its tasks time out.
  const auto deadline = std::chrono::steady_clock::now() + settle_;
  while (!cancelled.empty() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cancelled.erase(std::remove_if(cancelled.begin(), cancelled.end(),
                                   [&](const std::string& id) { return store_.job(id).field("state") != "running"; }),
                    cancelled.end());
  }
  return cancelled.size();
}

std::string Tenants::remove(const Principal& principal, const std::string& name) {
  require_role(principal, Role::platform);
  load(name);
  refuse_own(principal, name, "delete");
  // Deleted first: from here its tokens are refused, whatever else fails.
  store_.update_tenant(name, Record{{{"state", kTenantDeleted}, {"deleted_at", std::to_string(unix_seconds())}}});
  const std::size_t still_running = cancel_running_jobs(name);
  store_.refuse_tenant_agents(name, true);
  Principal owner;
  owner.tenant = name;
  owner.role = Role::admin;
  std::size_t agents = 0;
  for (const auto& [id, unused] : store_.tenant_agents(name)) {
    agents_.revoke(owner, id);  // removes its XMPP account through its master
    ++agents;
  }
  std::size_t tokens = 0;
  for (const auto& [hash, unused] : store_.tenant_tokens(name)) {
    store_.delete_token(name, hash);
    ++tokens;
  }
  return proto::JsonBuilder()
      .add("name", name)
      .add("state", kTenantDeleted)
      .add("agents_revoked", static_cast<std::int64_t>(agents))
      .add("tokens_revoked", static_cast<std::int64_t>(tokens))
      .add("jobs_still_running", static_cast<std::int64_t>(still_running))
      .dump();
}

}  // namespace muster::hub
