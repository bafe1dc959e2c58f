#pragma once
#include <stdexcept>
#include <string>
#include <vector>

namespace muster::hub {

enum class HubRole { api, master, all };

// One region: its XMPP server and the shards (component domains) that split
// its agents. Prosody allows one connection per component domain, which is
// what makes a shard the unit a single master owns.
struct RegionConfig {
  std::string name;
  std::string xmpp_domain;
  std::string xmpp_host = "127.0.0.1";
  unsigned short xmpp_port = 5222;
  std::string xmpp_ca_file;
  std::string component_host = "127.0.0.1";
  unsigned short component_port = 5347;
  std::string component_secret;
  std::vector<std::string> shards;
};

// What one tenant may hold at once; 0: no limit.
struct TenantQuotas {
  long agents = 0;
  long jobs_per_minute = 0;
  long streams = 0;
};

struct HubConfig {
  HubRole role = HubRole::all;

  std::string api_host = "127.0.0.1";
  unsigned short api_port = 8443;
  std::string tls_cert;
  std::string tls_key;
  int api_threads = 16;
  // What one client may hold of the api: connections, and how long it may
  // take to finish a TLS handshake, a request head, a body or reading an answer.
  struct ApiLimits {
    int max_connections = 4096;
    int max_connections_per_address = 256;
    int handshake_timeout_s = 5;
    int header_timeout_s = 10;
    int body_timeout_s = 15;
    int write_timeout_s = 30;
    int max_streams_per_token = 32;
    int stream_heartbeat_s = 15;
    // Requests a second (bursts of twice that), 0: no limit; clients from
    // `rate_exempt` addresses are not limited.
    int rate_per_address = 100;
    int rate_per_token = 50;
    std::vector<std::string> rate_exempt = {"127.0.0.1", "::1"};
  } api_limits;
  // The operations listener (/metrics, /healthz, /readyz); empty host: none.
  std::string metrics_host;
  unsigned short metrics_port = 0;
  std::string metrics_token_file;  // empty: /metrics needs no token
  // Quotas of a tenant that sets none of its own; 0: no limit.
  TenantQuotas tenant_quotas;
  // The api's ECDSA P-256 key (created if missing) and other public keys that
  // agents should also trust, e.g. the next key during a rollover.
  std::string signing_key;
  std::vector<std::string> trusted_keys;

  std::string store_host = "127.0.0.1";
  unsigned short store_port = 6379;
  std::string store_password;

  std::vector<RegionConfig> regions;
  // Shards this process's master may hold (all when empty).
  std::vector<std::string> master_shards;
  // Finished jobs are deleted from the store after this long.
  long job_retention_s = 7 * 86400;

  bool runs_api() const { return role != HubRole::master; }
  bool runs_master() const { return role != HubRole::api; }
  const RegionConfig* region(const std::string& name) const;
  // The region a shard belongs to, or nullptr.
  const RegionConfig* region_of_shard(const std::string& shard) const;
};

// Reads the INI file described in docs/commands.md (config_keys.hpp declares
// every key), for the file's role or `role_override`. Throws ConfigError
// with a message naming the key on any unknown, missing or invalid value.
HubConfig load_config(const std::string& path, const std::string& role_override = "");
bool parse_hub_role(const std::string& text, HubRole& out);
const char* to_string(HubRole role);

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace muster::hub
