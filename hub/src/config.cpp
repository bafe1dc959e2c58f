#include "config.hpp"

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/NumberParser.h>
#include <Poco/Util/IniFileConfiguration.h>

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

  c.store_host = ini->getString("store.host", "127.0.0.1");
  c.store_port = port_of(*ini, "store.port", 6379);
  c.store_password = ini->getString("store.password", "");

  c.region = ini->getString("region.name", "default");
  c.xmpp_domain = required(*ini, "region.xmpp_domain");
  c.xmpp_host = ini->getString("region.xmpp_host", "127.0.0.1");
  c.xmpp_port = port_of(*ini, "region.xmpp_port", 5222);
  c.xmpp_ca_file = required(*ini, "region.xmpp_ca_file");
  c.component_host = ini->getString("region.component_host", "127.0.0.1");
  c.component_port = port_of(*ini, "region.component_port", 5347);
  c.shard = required(*ini, "region.shard");
  c.component_secret = c.runs_master() ? required(*ini, "region.component_secret")
                                       : ini->getString("region.component_secret", "");
  return c;
}

}  // namespace muster::hub
