#include "config_keys.hpp"

#include <Poco/NumberParser.h>

#include <sstream>

namespace muster::hub {
namespace {

unsigned short to_port(const std::string& key, const std::string& text) {
  unsigned parsed = 0;
  if (!Poco::NumberParser::tryParseUnsigned(text, parsed) || parsed == 0 || parsed > 65535) {
    throw ConfigError(key + " must be a port number (1-65535), got \"" + text + "\"");
  }
  return static_cast<unsigned short>(parsed);
}

long to_number(const std::string& key, const std::string& text, long min, long max) {
  Poco::Int64 parsed = 0;
  if (!Poco::NumberParser::tryParse64(text, parsed) || parsed < min || parsed > max) {
    throw ConfigError(key + " must be a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                      ", got \"" + text + "\"");
  }
  return static_cast<long>(parsed);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
  return out;
}

using C = HubConfig;
using R = RegionConfig;
using S = const std::string&;

}  // namespace

std::vector<std::string> split_config_list(const std::string& text) {
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

// Every key, in the order the reference and --print show them.
const std::vector<ConfigKey> kConfigKeys = {
    {"hub", "role", KeyKind::role, "all", 0, "", "api | master | all (--role overrides it)",
     [](C& c, R&, S k, S v) {
       if (!parse_hub_role(v, c.role)) throw ConfigError(k + " must be api, master or all, got \"" + v + "\"");
     },
     [](const C& c, const R&) { return std::string(to_string(c.role)); }},

    {"api", "listen", KeyKind::host_port, "127.0.0.1:8443", 0, "", "address and port of the HTTPS API",
     [](C& c, R&, S k, S v) {
       const auto colon = v.rfind(':');
       if (colon == std::string::npos || colon == 0) throw ConfigError(k + " must be HOST:PORT, got \"" + v + "\"");
       c.api_host = v.substr(0, colon);
       c.api_port = to_port(k, v.substr(colon + 1));
     },
     [](const C& c, const R&) { return c.api_host + ":" + std::to_string(c.api_port); }},
    {"api", "tls_cert", KeyKind::path, "", 0, "/etc/muster/hub.crt",
     "certificate chain the API serves; with tls_key empty too: plain HTTP (development only)",
     [](C& c, R&, S, S v) { c.tls_cert = v; }, [](const C& c, const R&) { return c.tls_cert; }},
    {"api", "tls_key", KeyKind::path, "", 0, "/etc/muster/hub.key", "its private key",
     [](C& c, R&, S, S v) { c.tls_key = v; }, [](const C& c, const R&) { return c.tls_key; }},
    {"api", "threads", KeyKind::number, "16", 0, "", "request workers",
     [](C& c, R&, S k, S v) { c.api_threads = static_cast<int>(to_number(k, v, 1, 1024)); },
     [](const C& c, const R&) { return std::to_string(c.api_threads); }},
    {"api", "max_connections", KeyKind::number, "4096", 0, "",
     "open connections in all; past it a client gets 503 (HTTP) or a clean close (HTTPS)",
     [](C& c, R&, S k, S v) { c.api_limits.max_connections = static_cast<int>(to_number(k, v, 16, 1000000)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.max_connections); }},
    {"api", "max_connections_per_address", KeyKind::number, "256", 0, "", "open connections from one client address",
     [](C& c, R&, S k, S v) {
       c.api_limits.max_connections_per_address = static_cast<int>(to_number(k, v, 1, 1000000));
     },
     [](const C& c, const R&) { return std::to_string(c.api_limits.max_connections_per_address); }},
    {"api", "handshake_timeout_s", KeyKind::number, "5", 0, "", "a TLS handshake not done by then is closed",
     [](C& c, R&, S k, S v) { c.api_limits.handshake_timeout_s = static_cast<int>(to_number(k, v, 1, 300)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.handshake_timeout_s); }},
    {"api", "header_timeout_s", KeyKind::number, "10", 0, "",
     "request line and headers (and the wait for the next request of a connection) within this, else 408",
     [](C& c, R&, S k, S v) { c.api_limits.header_timeout_s = static_cast<int>(to_number(k, v, 1, 300)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.header_timeout_s); }},
    {"api", "body_timeout_s", KeyKind::number, "15", 0, "", "a request body within this after its headers, else 408",
     [](C& c, R&, S k, S v) { c.api_limits.body_timeout_s = static_cast<int>(to_number(k, v, 1, 3600)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.body_timeout_s); }},
    {"api", "write_timeout_s", KeyKind::number, "30", 0, "", "a client that takes longer to read an answer is closed",
     [](C& c, R&, S k, S v) { c.api_limits.write_timeout_s = static_cast<int>(to_number(k, v, 1, 3600)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.write_timeout_s); }},
    {"api", "max_streams_per_token", KeyKind::number, "32", 0, "", "open event streams one token may hold, else 429",
     [](C& c, R&, S k, S v) { c.api_limits.max_streams_per_token = static_cast<int>(to_number(k, v, 1, 100000)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.max_streams_per_token); }},
    {"api", "stream_heartbeat_s", KeyKind::number, "15", 0, "",
     "an event stream gets a comment this often, so a dead watcher is noticed",
     [](C& c, R&, S k, S v) { c.api_limits.stream_heartbeat_s = static_cast<int>(to_number(k, v, 1, 300)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.stream_heartbeat_s); }},
    {"api", "rate_per_address", KeyKind::number, "100", 0, "",
     "requests a second from one client address (bursts of twice that), else 429; 0: no limit",
     [](C& c, R&, S k, S v) { c.api_limits.rate_per_address = static_cast<int>(to_number(k, v, 0, 1000000)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.rate_per_address); }},
    {"api", "rate_per_token", KeyKind::number, "50", 0, "",
     "requests a second with one token (bursts of twice that), else 429; 0: no limit",
     [](C& c, R&, S k, S v) { c.api_limits.rate_per_token = static_cast<int>(to_number(k, v, 0, 1000000)); },
     [](const C& c, const R&) { return std::to_string(c.api_limits.rate_per_token); }},
    {"api", "rate_exempt", KeyKind::list, "127.0.0.1, ::1", 0, "",
     "client addresses neither rate limit applies to (clear it behind a proxy on this host)",
     [](C& c, R&, S, S v) { c.api_limits.rate_exempt = split_config_list(v); },
     [](const C& c, const R&) { return join(c.api_limits.rate_exempt); }},
    {"api", "job_retention_s", KeyKind::number, "604800", 0, "",
     "finished jobs are deleted from the store after this many seconds",
     [](C& c, R&, S k, S v) { c.job_retention_s = to_number(k, v, 60, 10L * 365 * 86400); },
     [](const C& c, const R&) { return std::to_string(c.job_retention_s); }},
    {"api", "signing_key", KeyKind::path, "", 0, "/etc/muster/signing-key.pem",
     "the api's ECDSA P-256 task signing key, created if missing (default: signing-key.pem beside this file)",
     [](C& c, R&, S, S v) { c.signing_key = v; }, [](const C& c, const R&) { return c.signing_key; }},
    {"api", "trusted_keys", KeyKind::list, "", 0, "",
     "more public keys (PEM files) agents also pin at enrollment, e.g. the next key of a rollover",
     [](C& c, R&, S, S v) { c.trusted_keys = split_config_list(v); },
     [](const C& c, const R&) { return join(c.trusted_keys); }},

    {"metrics", "listen", KeyKind::host_port, "", 0, "127.0.0.1:9464",
     "address and port of /metrics, /healthz and /readyz (plain HTTP; empty: not served)",
     [](C& c, R&, S k, S v) {
       if (v.empty()) return;
       const auto colon = v.rfind(':');
       if (colon == std::string::npos || colon == 0) throw ConfigError(k + " must be HOST:PORT, got \"" + v + "\"");
       c.metrics_host = v.substr(0, colon);
       c.metrics_port = to_port(k, v.substr(colon + 1));
     },
     [](const C& c, const R&) {
       return c.metrics_host.empty() ? std::string() : c.metrics_host + ":" + std::to_string(c.metrics_port);
     }},
    {"metrics", "token_file", KeyKind::path, "", 0, "",
     "a file holding the bearer token /metrics asks for (empty: none; /healthz and /readyz never ask)",
     [](C& c, R&, S, S v) { c.metrics_token_file = v; }, [](const C& c, const R&) { return c.metrics_token_file; }},

    {"tenants", "max_agents", KeyKind::number, "0", 0, "",
     "agents a tenant may enroll, unless its own quota says otherwise; 0: no limit",
     [](C& c, R&, S k, S v) { c.tenant_quotas.agents = to_number(k, v, 0, 100000000); },
     [](const C& c, const R&) { return std::to_string(c.tenant_quotas.agents); }},
    {"tenants", "jobs_per_minute", KeyKind::number, "0", 0, "",
     "jobs a tenant may submit in one minute, else 429; 0: no limit",
     [](C& c, R&, S k, S v) { c.tenant_quotas.jobs_per_minute = to_number(k, v, 0, 100000000); },
     [](const C& c, const R&) { return std::to_string(c.tenant_quotas.jobs_per_minute); }},
    {"tenants", "max_streams", KeyKind::number, "0", 0, "",
     "event streams a tenant's tokens may hold open together, else 429; 0: no limit",
     [](C& c, R&, S k, S v) { c.tenant_quotas.streams = to_number(k, v, 0, 100000000); },
     [](const C& c, const R&) { return std::to_string(c.tenant_quotas.streams); }},

    {"store", "host", KeyKind::text, "127.0.0.1", 0, "", "Redis-compatible store",
     [](C& c, R&, S, S v) { c.store_host = v; }, [](const C& c, const R&) { return c.store_host; }},
    {"store", "port", KeyKind::port, "6379", 0, "", "",
     [](C& c, R&, S k, S v) { c.store_port = to_port(k, v); },
     [](const C& c, const R&) { return std::to_string(c.store_port); }},
    {"store", "password", KeyKind::secret, "", 0, "", "AUTH when set",
     [](C& c, R&, S, S v) { c.store_password = v; }, [](const C& c, const R&) { return c.store_password; }},

    {"master", "shards", KeyKind::list, "", 0, "",
     "shards this process's master may hold (empty: every configured shard)",
     [](C& c, R&, S, S v) { c.master_shards = split_config_list(v); },
     [](const C& c, const R&) { return join(c.master_shards); }},

    {"region.NAME", "xmpp_domain", KeyKind::text, "", kRolesApi | kRolesMaster, "eu.muster.example",
     "agents are <uuid>@xmpp_domain", [](C&, R& r, S, S v) { r.xmpp_domain = v; },
     [](const C&, const R& r) { return r.xmpp_domain; }},
    {"region.NAME", "xmpp_host", KeyKind::text, "127.0.0.1", 0, "xmpp.eu.muster.example",
     "c2s address handed to enrolling agents", [](C&, R& r, S, S v) { r.xmpp_host = v; },
     [](const C&, const R& r) { return r.xmpp_host; }},
    {"region.NAME", "xmpp_port", KeyKind::port, "5222", 0, "", "",
     [](C&, R& r, S k, S v) { r.xmpp_port = to_port(k, v); },
     [](const C&, const R& r) { return std::to_string(r.xmpp_port); }},
    {"region.NAME", "xmpp_ca_file", KeyKind::path, "", kRolesApi | kRolesMaster, "/etc/muster/eu-xmpp-ca.pem",
     "CA that agents pin for the XMPP server", [](C&, R& r, S, S v) { r.xmpp_ca_file = v; },
     [](const C&, const R& r) { return r.xmpp_ca_file; }},
    {"region.NAME", "component_host", KeyKind::text, "127.0.0.1", 0, "",
     "XEP-0114 port: loopback or private network only", [](C&, R& r, S, S v) { r.component_host = v; },
     [](const C&, const R& r) { return r.component_host; }},
    {"region.NAME", "component_port", KeyKind::port, "5347", 0, "", "",
     [](C&, R& r, S k, S v) { r.component_port = to_port(k, v); },
     [](const C&, const R& r) { return std::to_string(r.component_port); }},
    {"region.NAME", "component_secret", KeyKind::secret, "", kRolesMaster, "change-me",
     "the component's shared secret", [](C&, R& r, S, S v) { r.component_secret = v; },
     [](const C&, const R& r) { return r.component_secret; }},
    {"region.NAME", "shards", KeyKind::list, "", kRolesApi | kRolesMaster,
     "shard0.eu.muster.example, shard1.eu.muster.example",
     "component domains, one per shard (a single [region] section may say shard =)",
     [](C&, R& r, S k, S v) {
       r.shards = split_config_list(v);
       if (r.shards.empty()) throw ConfigError(k + " is required (one or more component domains)");
     },
     [](const C&, const R& r) { return join(r.shards); }},
};

const std::vector<ConfigKey>& config_keys() { return kConfigKeys; }

bool is_region_key(const ConfigKey& key) { return std::string(key.section) == "region.NAME"; }

namespace {

// `name = value   ; doc`, aligned like the hand-written files.
void key_line(std::ostringstream& out, const std::string& name, const std::string& value, const std::string& doc) {
  std::string line = name + " = " + value;
  if (!doc.empty()) {
    if (line.size() < 37) line.resize(37, ' ');
    line += " ; " + doc;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  out << line << "\n";
}

const char* kind_name(KeyKind kind) {
  switch (kind) {
    case KeyKind::text: return "text";
    case KeyKind::path: return "path";
    case KeyKind::secret: return "secret";
    case KeyKind::port: return "port";
    case KeyKind::host_port: return "host:port";
    case KeyKind::number: return "number";
    case KeyKind::list: return "list";
    case KeyKind::role: return "role";
  }
  return "text";
}

}  // namespace

std::string config_reference() {
  std::ostringstream out;
  std::string section;
  for (const auto& key : config_keys()) {
    if (key.section != section) {
      if (!section.empty()) out << "\n";
      section = key.section;
      out << "[" << (is_region_key(key) ? std::string("region.eu") : section) << "]"
          << (is_region_key(key) ? "                          ; one section per region" : "") << "\n";
    }
    std::string doc = key.doc;
    if (key.required_by != 0) {
      const bool both = key.required_by == (kRolesApi | kRolesMaster);
      doc = std::string("required") + (both ? "" : (key.required_by == kRolesMaster ? " by master" : " by api")) +
            (doc.empty() ? "" : "; ") + doc;
    }
    doc = std::string(kind_name(key.kind)) + (doc.empty() ? "" : ": " + doc);
    key_line(out, key.name, *key.example != '\0' ? key.example : key.fallback, doc);
  }
  return out.str();
}

std::string print_config(const HubConfig& config) {
  std::ostringstream out;
  const RegionConfig none;
  std::string section;
  auto value_of = [](const ConfigKey& key, const HubConfig& c, const RegionConfig& r) {
    const std::string v = key.show(c, r);
    return key.kind == KeyKind::secret && !v.empty() ? std::string("********") : v;
  };
  for (const auto& key : config_keys()) {
    if (is_region_key(key)) continue;
    if (key.section != section) {
      out << (section.empty() ? "" : "\n") << "[" << key.section << "]\n";
      section = key.section;
    }
    key_line(out, key.name, value_of(key, config, none), "");
  }
  for (const auto& region : config.regions) {
    out << "\n[region." << region.name << "]\n";
    for (const auto& key : config_keys()) {
      if (is_region_key(key)) key_line(out, key.name, value_of(key, config, region), "");
    }
  }
  return out.str();
}

}  // namespace muster::hub
