#pragma once
// Bearer tokens. The store keeps only SHA-256 hashes; a token names its kind
// (api or enroll), role, tenant and expiry.
#include <cstdint>
#include <optional>
#include <string>

#include "config.hpp"
#include "muster/proto/json.hpp"
#include "store/api_store.hpp"

namespace muster::hub {

enum class TokenKind { api, enroll };
// Each role may do what the ones below it may. Platform tokens also manage
// the tenants themselves.
enum class Role { viewer = 0, operator_ = 1, admin = 2, platform = 3 };

struct Principal {
  std::string token_id;    // first 16 hex characters of the hash: safe to show
  std::string token_hash;  // the store key's name part
  TokenKind kind = TokenKind::api;
  Role role = Role::viewer;
  std::string tenant;
  proto::StringMap labels;  // enrollment tokens: labels given to agents
  std::string region;       // enrollment tokens: region of the agents (empty: the first)
  TenantQuotas quotas;      // the tenant's, as they were when the token was checked
};

struct NewToken {
  std::string token;  // shown once
  std::string id;
  std::int64_t expires_at = 0;
};

class Auth {
 public:
  explicit Auth(ApiStore& store, TenantQuotas default_quotas = {}) : store_(store), default_quotas_(default_quotas) {}

  NewToken create_api_token(const std::string& tenant, Role role, std::int64_t ttl_s);
  NewToken create_enroll_token(const std::string& tenant, const proto::StringMap& labels, std::int64_t uses,
                               std::int64_t ttl_s, const std::string& region);
  // From an "Authorization: Bearer ..." header value; throws ApiError 401,
  // or 403 when the token's tenant is suspended.
  Principal authenticate(const std::string& authorization_header);
  // Spends one use of an enrollment token, atomically and only when one is
  // left; throws ApiError 401 (and changes nothing) when none is left.
  void consume_enroll_use(const Principal& principal);
  // Gives back a use taken by an enrollment that then failed.
  void refund_enroll_use(const Principal& principal);
  // The tenant's live tokens (never the secrets), and revocation by id.
  std::string list_json(const std::string& tenant);
  // Throws ApiError 404 when the tenant has no token with this id.
  void revoke(const std::string& tenant, const std::string& token_id);
  // POST /tokens: {"kind": "api"|"enroll", "role", "ttl_s", "uses", "labels",
  // "region"} checked strictly (400 naming the field); admin only. Returns
  // the new token as JSON, its secret shown this once.
  std::string create_from_request(const Principal& principal, const std::string& body, const HubConfig& config);

 private:
  NewToken store_token(const std::string& tenant, TokenKind kind, Role role, const proto::StringMap& labels,
                       std::int64_t uses, std::int64_t ttl_s, const std::string& region);
  ApiStore& store_;
  TenantQuotas default_quotas_;
};

// Throws ApiError 403 unless the principal is an api token with at least
// `needed` (enrollment tokens only enroll).
void require_role(const Principal& principal, Role needed);

const char* to_string(Role role);
bool parse_role(const std::string& text, Role& out);
std::string sha256_hex(const std::string& text);
std::int64_t unix_seconds();
double unix_time();

}  // namespace muster::hub
