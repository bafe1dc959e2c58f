#include "config.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/NumberParser.h>
#include <Poco/Util/IniFileConfiguration.h>

#include <algorithm>
#include <fstream>

#include "config_keys.hpp"

namespace muster::hub {

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

namespace {

using Ini = Poco::Util::AbstractConfiguration;

unsigned roles_of(HubRole role) {
  switch (role) {
    case HubRole::api: return kRolesApi;
    case HubRole::master: return kRolesMaster;
    case HubRole::all: return kRolesApi | kRolesMaster;
  }
  return kRolesApi | kRolesMaster;
}

const ConfigKey* find_key(const std::string& section, const std::string& name) {
  for (const auto& key : config_keys()) {
    const bool region = is_region_key(key);
    if ((region ? section == "region" : section == key.section) && name == key.name) return &key;
  }
  return nullptr;
}

// Sets one key from the file, or from its default; a key the running roles
// need and the file lacks is an error.
void apply_key(const ConfigKey& key, const Ini& ini, const std::string& full_name, unsigned roles, HubConfig& c,
               RegionConfig& r) {
  if (ini.has(full_name)) {
    key.apply(c, r, full_name, ini.getString(full_name));
  } else if ((key.required_by & roles) != 0) {
    throw ConfigError(full_name + " is required");
  } else if (*key.fallback != '\0') {
    key.apply(c, r, full_name, key.fallback);
  }
}

RegionConfig read_region(const Ini& ini, const std::string& prefix, const std::string& name, unsigned roles,
                         HubConfig& c) {
  RegionConfig r;
  r.name = name;
  Ini::Keys present;
  ini.keys(prefix, present);
  for (const auto& k : present) {
    const bool single_form_extra = prefix == "region" && (k == "name" || k == "shard");
    if (find_key("region", k) == nullptr && !single_form_extra) {
      throw ConfigError("unknown key " + prefix + "." + k + " (docs/commands.md lists every key)");
    }
  }
  for (const auto& key : config_keys()) {
    if (!is_region_key(key)) continue;
    // One [region] section may name its shard "shard".
    if (std::string(key.name) == "shards" && !ini.has(prefix + ".shards") && ini.has(prefix + ".shard")) {
      key.apply(c, r, prefix + ".shard", ini.getString(prefix + ".shard"));
      continue;
    }
    apply_key(key, ini, prefix + "." + key.name, roles, c, r);
  }
  return r;
}

}  // namespace

namespace {

// Keys outside the table are mistakes (a typo, a key of another version): refused.
void refuse_unknown_keys(const Ini& ini) {
  Ini::Keys sections;
  ini.keys("", sections);
  for (const auto& section : sections) {
    if (section == "region") continue;
    Ini::Keys names;
    ini.keys(section, names);
    for (const auto& name : names) {
      if (find_key(section, name) == nullptr) {
        throw ConfigError("unknown key " + section + "." + name + " (docs/commands.md lists every key)");
      }
    }
    if (names.empty()) throw ConfigError("unknown key " + section + " (docs/commands.md lists every key)");
  }
}

// At least one region; every shard in one region only; master.shards known.
void check_shards(const HubConfig& c) {
  if (c.regions.empty()) throw ConfigError("no region configured: add a [region.NAME] section");
  std::vector<std::string> seen;
  for (const auto& r : c.regions) {
    for (const auto& s : r.shards) {
      if (std::find(seen.begin(), seen.end(), s) != seen.end()) throw ConfigError("shard " + s + " appears twice");
      seen.push_back(s);
    }
  }
  for (const auto& s : c.master_shards) {
    if (c.region_of_shard(s) == nullptr) throw ConfigError("master.shards names unknown shard " + s);
  }
}

}  // namespace

HubConfig load_config(const std::string& path, const std::string& role_override) {
  if (!std::ifstream(path).good()) throw ConfigError("cannot read config file " + path);
  Poco::AutoPtr<Poco::Util::IniFileConfiguration> ini;
  try {
    ini = new Poco::Util::IniFileConfiguration(path);
  } catch (const Poco::Exception& e) {
    throw ConfigError(path + ": " + e.displayText());
  }
  HubConfig c;
  RegionConfig unused;
  // The role first (the file's, then --role): what is required depends on it.
  apply_key(*find_key("hub", "role"), *ini, "hub.role", 0, c, unused);
  if (!role_override.empty() && !parse_hub_role(role_override, c.role)) {
    throw ConfigError("--role must be api, master or all, got \"" + role_override + "\"");
  }
  const unsigned roles = roles_of(c.role);

  refuse_unknown_keys(*ini);
  for (const auto& key : config_keys()) {
    if (is_region_key(key) || std::string(key.section) == "hub") continue;
    apply_key(key, *ini, std::string(key.section) + "." + key.name, roles, c, unused);
  }
  if (c.signing_key.empty()) {
    const auto slash = path.rfind('/');
    c.signing_key = (slash == std::string::npos ? std::string(".") : path.substr(0, slash)) + "/signing-key.pem";
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) throw ConfigError("api.tls_cert and api.tls_key go together");

  // Regions: [region.NAME] sections, or one [region] section with name=.
  if (ini->has("region.xmpp_domain") || ini->has("region.name")) {
    c.regions.push_back(read_region(*ini, "region", ini->getString("region.name", "default"), roles, c));
  } else {
    Ini::Keys names;
    ini->keys("region", names);
    for (const auto& name : names) c.regions.push_back(read_region(*ini, "region." + name, name, roles, c));
  }
  check_shards(c);
  return c;
}

}  // namespace muster::hub
