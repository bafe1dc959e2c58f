#pragma once
// Every key of the hub's configuration file, declared once: section, name,
// kind, default, the roles that need it, and a line of documentation. The
// loader, its validation, `muster-hub config --print` and the reference in
// docs/commands.md (checked by a test) all come from this table.
#include <string>
#include <vector>

#include "config.hpp"

namespace muster::hub {

enum class KeyKind { text, path, secret, port, host_port, number, list, role };

struct ConfigKey {
  const char* section;   // "hub", "api", "store", "master", or "region.NAME" for each region
  const char* name;
  KeyKind kind;
  const char* fallback;  // the default as written in the file; "" with `required_by`: must be given
  unsigned required_by;  // kRolesApi | kRolesMaster: the roles that cannot run without it
  const char* example;   // what the reference shows (default when empty)
  const char* doc;
  // Sets the value (already known to be present) on the config or region;
  // throws ConfigError naming the key when it is not valid.
  void (*apply)(HubConfig&, RegionConfig&, const std::string& key, const std::string& value);
  // The effective value, for --print.
  std::string (*show)(const HubConfig&, const RegionConfig&);
};

inline constexpr unsigned kRolesApi = 1;
inline constexpr unsigned kRolesMaster = 2;

const std::vector<ConfigKey>& config_keys();
// "a, b c" -> {a, b, c}
std::vector<std::string> split_config_list(const std::string& text);
bool is_region_key(const ConfigKey& key);

// The reference of the file, as docs/commands.md shows it.
std::string config_reference();
// The effective configuration as INI, secrets masked.
std::string print_config(const HubConfig& config);

}  // namespace muster::hub
