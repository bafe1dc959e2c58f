#include "config.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/NumberParser.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <algorithm>
#include <fstream>

namespace muster::hub {
namespace {

void split_host_port(const std::string& key, const std::string& value, std::string& host, unsigned short& port) {
  const auto colon = value.rfind(':');
  unsigned parsed = 0;
  if (colon == std::string::npos || !Poco::NumberParser::tryParseUnsigned(value.substr(colon + 1), parsed) ||
      parsed == 0 || parsed > 65535) {
    throw ConfigError(key + " must be HOST:PORT, got \"" + value + "\"");
  }
  host = value.substr(0, colon);
  port = static_cast<unsigned short>(parsed);
}

unsigned short port_of(const Poco::Util::AbstractConfiguration& ini, const std::string& key, unsigned short fallback) {
  const std::string text = ini.getString(key, std::to_string(fallback));
  unsigned parsed = 0;
  if (!Poco::NumberParser::tryParseUnsigned(text, parsed) || parsed == 0 || parsed > 65535) {
    throw ConfigError(key + " must be a port number, got \"" + text + "\"");
  }
  return static_cast<unsigned short>(parsed);
}

std::string required(const Poco::Util::AbstractConfiguration& ini, const std::string& key) {
  const std::string value = ini.getString(key, "");
  if (value.empty()) throw ConfigError(key + " is required");
  return value;
}

}  // namespace

bool parse_hub_role(const std::string& text, HubRole& out) {
  if (text == "api") {
    out = HubRole::api;
  } else if (text == "master") {
    out = HubRole::master;
  } else if (text == "all") {
    out = HubRole::all;
  } else {
    return false;
  }
  return true;
}

const char* to_string(HubRole role) {
  switch (role) {
    case HubRole::api: return "api";
    case HubRole::master: return "master";
    case HubRole::all: return "all";
  }
  return "all";
}

namespace {

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  for (char c : text + ",") {
    if (c == ',' || c == ' ' || c == '\t') {
      if (!item.empty()) items.push_back(item);
      item.clear();
    } else {
      item += c;
    }
  }
  return items;
}

RegionConfig read_region(const Poco::Util::AbstractConfiguration& ini, const std::string& prefix,
                         const std::string& name, bool needs_secret) {
  RegionConfig r;
  r.name = name;
  r.xmpp_domain = required(ini, prefix + ".xmpp_domain");
  r.xmpp_host = ini.getString(prefix + ".xmpp_host", "127.0.0.1");
  r.xmpp_port = port_of(ini, prefix + ".xmpp_port", 5222);
  r.xmpp_ca_file = required(ini, prefix + ".xmpp_ca_file");
  r.component_host = ini.getString(prefix + ".component_host", "127.0.0.1");
  r.component_port = port_of(ini, prefix + ".component_port", 5347);
  r.component_secret = needs_secret ? required(ini, prefix + ".component_secret")
                                    : ini.getString(prefix + ".component_secret", "");
  r.shards = split_list(ini.getString(prefix + ".shards", ini.getString(prefix + ".shard", "")));
  if (r.shards.empty()) throw ConfigError(prefix + ".shards is required (one or more component domains)");
  return r;
}

}  // namespace

const RegionConfig* HubConfig::region(const std::string& name) const {
  for (const auto& r : regions) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

const RegionConfig* HubConfig::region_of_shard(const std::string& shard) const {
  for (const auto& r : regions) {
    for (const auto& s : r.shards) {
      if (s == shard) return &r;
    }
  }
  return nullptr;
}

HubConfig load_config(const std::string& path) {
  if (!std::ifstream(path).good()) throw ConfigError("cannot read config file " + path);
  Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini;
  try {
    ini = new Poco::Util::IniFileConfiguration(path);
  } catch (const Poco::Exception& e) {
    throw ConfigError(path + ": " + e.displayText());
  }
  HubConfig c;
  if (!parse_hub_role(ini->getString("hub.role", "all"), c.role)) throw ConfigError("hub.role must be api, master or all");

  split_host_port("api.listen", ini->getString("api.listen", "127.0.0.1:8443"), c.api_host, c.api_port);
  c.tls_cert = ini->getString("api.tls_cert", "");
  c.tls_key = ini->getString("api.tls_key", "");
  if (c.tls_cert.empty() != c.tls_key.empty()) throw ConfigError("api.tls_cert and api.tls_key go together");
  c.api_threads = ini->getInt("api.threads", 16);
  if (c.api_threads < 1 || c.api_threads > 1024) throw ConfigError("api.threads must be 1..1024");
  c.job_retention_s = ini->getInt("api.job_retention_s", 7 * 86400);
  const auto slash = path.rfind('/');
  const std::string config_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  c.signing_key = ini->getString("api.signing_key", config_dir + "/signing-key.pem");
  c.trusted_keys = split_list(ini->getString("api.trusted_keys", ""));
  if (c.job_retention_s < 60) throw ConfigError("api.job_retention_s must be at least 60");

  c.store_host = ini->getString("store.host", "127.0.0.1");
  c.store_port = port_of(*ini, "store.port", 6379);
  c.store_password = ini->getString("store.password", "");

  // Regions: [region.NAME] sections, or one [region] section with name=.
  Poco::Util::AbstractConfiguration::Keys names;
  ini->keys("region", names);
  if (ini->has("region.xmpp_domain")) {
    c.regions.push_back(read_region(*ini, "region", ini->getString("region.name", "default"), c.runs_master()));
  } else {
    for (const auto& name : names) {
      c.regions.push_back(read_region(*ini, "region." + name, name, c.runs_master()));
    }
  }
  if (c.regions.empty()) throw ConfigError("no region configured: add a [region.NAME] section");
  std::vector<std::string> seen;
  for (const auto& r : c.regions) {
    for (const auto& s : r.shards) {
      if (std::find(seen.begin(), seen.end(), s) != seen.end()) throw ConfigError("shard " + s + " appears twice");
      seen.push_back(s);
    }
  }
  c.master_shards = split_list(ini->getString("master.shards", ""));
  for (const auto& s : c.master_shards) {
    if (c.region_of_shard(s) == nullptr) throw ConfigError("master.shards names unknown shard " + s);
  }
  return c;
}

}  // namespace muster::hub
