#pragma once
#include <stdexcept>
#include <string>

namespace muster::hub {

enum class HubRole { api, master, all };

struct HubConfig {
  HubRole role = HubRole::all;

  std::string api_host = "127.0.0.1";
  unsigned short api_port = 8443;
  std::string tls_cert;
  std::string tls_key;
  int api_threads = 16;

  std::string store_host = "127.0.0.1";
  unsigned short store_port = 6379;
  std::string store_password;

  std::string region = "default";
  std::string xmpp_domain;
  std::string xmpp_host = "127.0.0.1";
  unsigned short xmpp_port = 5222;
  std::string xmpp_ca_file;
  std::string component_host = "127.0.0.1";
  unsigned short component_port = 5347;
  std::string shard;
  std::string component_secret;

  bool runs_api() const { return role != HubRole::master; }
  bool runs_master() const { return role != HubRole::api; }
};

// Reads the INI file described in docs/commands.md. Throws ConfigError with a
// message naming the key on any missing or invalid value.
HubConfig load_config(const std::string& path);
bool parse_hub_role(const std::string& text, HubRole& out);
const char* to_string(HubRole role);

struct ConfigError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace muster::hub
