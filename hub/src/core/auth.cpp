#include "core/auth.hpp"

#include <Poco/SHA2Engine.h>

#include <chrono>

#include "core/errors.hpp"
#include "core/tenants.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {
constexpr const char* kBearer = "Bearer ";
constexpr std::size_t kTokenHexBytes = 32;

ApiError unauthorized(const std::string& why) { return ApiError(401, "unauthorized", why); }
}  // namespace

std::string sha256_hex(const std::string& text) {
  Poco::SHA2Engine engine(Poco::SHA2Engine::SHA_256);
  engine.update(text);
  return Poco::DigestEngine::digestToHex(engine.digest());
}

std::int64_t unix_seconds() {
  using namespace std::chrono;
  return duration_cast<seconds>(system_clock::now().time_since_epoch()).count();
}

double unix_time() {
  using namespace std::chrono;
  return static_cast<double>(duration_cast<microseconds>(system_clock::now().time_since_epoch()).count()) / 1e6;
}

const char* to_string(Role role) {
  switch (role) {
    case Role::viewer: return "viewer";
    case Role::operator_: return "operator";
    case Role::admin: return "admin";
    case Role::platform: return "platform";
  }
  return "viewer";
}

bool parse_role(const std::string& text, Role& out) {
  if (text == "viewer") {
    out = Role::viewer;
  } else if (text == "operator") {
    out = Role::operator_;
  } else if (text == "admin") {
    out = Role::admin;
  } else if (text == "platform") {
    out = Role::platform;
  } else {
    return false;
  }
  return true;
}

NewToken Auth::store_token(const std::string& tenant, TokenKind kind, Role role, const proto::StringMap& labels,
                           std::int64_t uses, std::int64_t ttl_s, const std::string& region) {
  NewToken t;
  t.token = (kind == TokenKind::api ? "mst_" : "mse_") + proto::random_hex(kTokenHexBytes);
  const std::string hash = sha256_hex(t.token);
  t.id = hash.substr(0, 16);
  t.expires_at = unix_seconds() + ttl_s;
  store_.put_token(hash, tenant,
                   Record{{{"kind", kind == TokenKind::api ? "api" : "enroll"},
                           {"role", to_string(role)},
                           {"tenant", tenant},
                           {"labels", labels_field(labels)},
                           {"uses", std::to_string(uses)},
                           {"expires_at", std::to_string(t.expires_at)},
                           {"created_at", std::to_string(unix_seconds())},
                           {"region", region}}},
                   ttl_s);
  return t;
}

NewToken Auth::create_api_token(const std::string& tenant, Role role, std::int64_t ttl_s) {
  return store_token(tenant, TokenKind::api, role, {}, 0, ttl_s, "");
}

NewToken Auth::create_enroll_token(const std::string& tenant, const proto::StringMap& labels, std::int64_t uses,
                                   std::int64_t ttl_s, const std::string& region) {
  return store_token(tenant, TokenKind::enroll, Role::viewer, labels, uses, ttl_s, region);
}

Principal Auth::authenticate(const std::string& header) {
  if (header.empty()) throw unauthorized("missing Authorization: Bearer token");
  if (header.compare(0, std::char_traits<char>::length(kBearer), kBearer) != 0) {
    throw unauthorized("Authorization must be \"Bearer <token>\"");
  }
  const std::string token = header.substr(std::char_traits<char>::length(kBearer));
  if (token.size() != 4 + 2 * kTokenHexBytes) throw unauthorized("unknown or expired token");
  const std::string hash = sha256_hex(token);
  const Record fields = store_.token(hash);
  if (fields.empty()) throw unauthorized("unknown or expired token");
  const auto expires_at = std::stoll(fields.field("expires_at").value_or("0"));
  if (expires_at <= unix_seconds()) throw unauthorized("unknown or expired token");

  Principal p;
  p.token_id = hash.substr(0, 16);
  p.token_hash = hash;
  p.kind = fields.field("kind").value_or("") == "enroll" ? TokenKind::enroll : TokenKind::api;
  if (!parse_role(fields.field("role").value_or(""), p.role)) throw unauthorized("token has no valid role");
  p.tenant = fields.field("tenant").value_or("");
  p.region = fields.field("region").value_or("");
  p.labels = labels_of(fields);
  // Tenants made before tenant records existed have none: active, default quotas.
  const Record tenant = store_.tenant(p.tenant);
  const std::string state = tenant.field("state").value_or(kTenantActive);
  if (state == kTenantDeleted) throw unauthorized("unknown or expired token");
  if (state != kTenantActive) {
    throw ApiError(403, "tenant_suspended", "tenant " + p.tenant + " is suspended; its tokens and agents are refused");
  }
  p.quotas = tenant_quotas(tenant, default_quotas_);
  return p;
}

std::string Auth::list_json(const std::string& tenant) {
  proto::JsonPtr list(cJSON_CreateArray());
  for (const auto& [hash, t] : store_.tenant_tokens(tenant)) {
    const bool enroll = t.field("kind").value_or("") == "enroll";
    proto::JsonBuilder b;
    b.add("id", hash.substr(0, 16)).add("kind", enroll ? "enroll" : "api");
    if (enroll) {
      b.add("uses_left", static_cast<std::int64_t>(std::stoll(t.field("uses").value_or("0"))))
          .add("labels", labels_of(t))
          .add("region", t.field("region").value_or(""));
    } else {
      b.add("role", t.field("role").value_or(""));
    }
    b.add("created_at", static_cast<std::int64_t>(std::stoll(t.field("created_at").value_or("0"))))
        .add("expires_at", static_cast<std::int64_t>(std::stoll(t.field("expires_at").value_or("0"))));
    cJSON_AddItemToArray(list.get(), b.release().release());
  }
  return proto::JsonBuilder().add_node("tokens", std::move(list)).dump();
}

void Auth::revoke(const std::string& tenant, const std::string& token_id) {
  if (token_id.size() != 16 || token_id.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw ApiError(404, "not_found", "no token " + token_id);
  }
  for (const auto& [hash, unused] : store_.tenant_tokens(tenant)) {
    if (hash.compare(0, 16, token_id) == 0) {
      store_.delete_token(tenant, hash);
      return;
    }
  }
  throw ApiError(404, "not_found", "no token " + token_id);
}


void Auth::consume_enroll_use(const Principal& principal) {
  if (store_.take_enroll_use(principal.token_hash) < 0) throw unauthorized("enrollment token has no uses left");
}

void Auth::refund_enroll_use(const Principal& principal) {
  store_.refund_enroll_use(principal.token_hash);
}

void require_role(const Principal& p, Role needed) {
  if (p.kind != TokenKind::api) throw ApiError(403, "forbidden", "an enrollment token cannot use this endpoint");
  if (p.role < needed) {
    throw ApiError(403, "forbidden", std::string("this needs the ") + to_string(needed) + " role; the token has " +
                                         to_string(p.role));
  }
}

std::string Auth::create_from_request(const Principal& p, const std::string& body, const HubConfig& config) {
  require_role(p, Role::admin);
  auto root = proto::parse_object(body);
  if (!root) throw ApiError(400, proto::to_string(root.error().code), root.error().message);
  std::string kind, role_text = "viewer";
  std::int64_t ttl_s = 86400, uses = 1;
  proto::StringMap labels;
  proto::FieldReader r(root->get(), "");
  std::optional<std::string> region;
  r.only({"kind", "role", "ttl_s", "uses", "labels", "region"})
      .no_nulls()
      .optional("region", region, 64)
      .required("kind", kind, 16)
      .optional("ttl_s", ttl_s, 60, 366LL * 86400)
      .optional("uses", uses, 1, 1000000)
      .optional_labels("labels", labels);
  std::optional<std::string> role_field;
  r.optional("role", role_field, 16);
  if (role_field) role_text = *role_field;
  Role role{};
  if (r.ok() && kind != "api" && kind != "enroll") r.fail(proto::ErrorCode::invalid_field, "kind must be api or enroll");
  if (r.ok() && !parse_role(role_text, role)) {
    r.fail(proto::ErrorCode::invalid_field, "role must be platform, admin, operator or viewer");
  }
  if (r.ok() && kind == "api" && (r.has("uses") || r.has("labels") || region)) {
    r.fail(proto::ErrorCode::invalid_field, "uses, labels and region belong to enrollment tokens");
  }
  if (r.ok() && region && config.region(*region) == nullptr) {
    r.fail(proto::ErrorCode::invalid_field, "region " + *region + " is not configured");
  }
  if (r.ok() && kind == "enroll" && role_field) r.fail(proto::ErrorCode::invalid_field, "role belongs to api tokens");
  if (!r.ok()) throw ApiError(400, proto::to_string(r.error()->code), r.error()->message);
  if (role > p.role) throw ApiError(403, "forbidden", std::string("a token cannot make a ") + to_string(role) + " token");

  const NewToken t = kind == "api" ? create_api_token(p.tenant, role, ttl_s)
                                   : create_enroll_token(p.tenant, labels, uses, ttl_s, region.value_or(""));
  proto::JsonBuilder b;
  b.add("token", t.token).add("id", t.id).add("kind", kind).add("expires_at", t.expires_at);
  if (kind == "api") {
    b.add("role", to_string(role));
  } else {
    b.add("uses", uses).add("labels", labels).add("region", region.value_or(config.regions.front().name));
  }
  return b.dump();
}

}  // namespace muster::hub
