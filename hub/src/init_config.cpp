#include "init_config.hpp"

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <stdexcept>

#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {

std::string folder_of(const std::string& path) {
  const auto slash = path.rfind('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

// A DNS name: labels of letters, digits and '-', separated by dots.
bool valid_domain(const std::string& domain) {
  if (domain.empty() || domain.size() > 253 || domain.front() == '.' || domain.back() == '.') return false;
  for (char c : domain) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return domain.find("..") == std::string::npos;
}

}  // namespace

std::string initial_config(const InitOptions& options, const std::string& component_secret) {
  const std::string dir = folder_of(options.config_path);
  const std::string& domain = options.xmpp_domain;
  return "; Written by `muster-hub init` for one machine running the api and the master\n"
         "; beside Redis and Prosody. Every key: muster-hub config --reference.\n"
         "[hub]\nrole = all\n\n"
         "[api]\n"
         "listen = " + options.api_listen + "\n"
         "; The API's certificate chain and key (PEM), for the name agents use in hub_url.\n"
         "tls_cert = " + dir + "/hub.crt\n"
         "tls_key = " + dir + "/hub.key\n"
         "; Created on first start if missing; agents pin its public key at enrollment.\n"
         "signing_key = " + options.state_dir + "/signing-key.pem\n\n"
         "[store]\nhost = 127.0.0.1\nport = 6379\npassword =\n\n"
         "[region.default]\n"
         "xmpp_domain = " + domain + "\n"
         "; What agents connect to; its certificate must name " + domain + ".\n"
         "xmpp_host = " + domain + "\nxmpp_port = 5222\n"
         "; The CA of the XMPP server's certificate, handed to agents at enrollment.\n"
         "xmpp_ca_file = " + dir + "/xmpp-ca.pem\n"
         "component_host = 127.0.0.1\ncomponent_port = 5347\n"
         "component_secret = " + component_secret + "\n"
         "shards = shard0." + domain + "\n";
}

std::string prosody_component_snippet(const InitOptions& options, const std::string& component_secret) {
  return "Component \"shard0." + options.xmpp_domain + "\"\n    component_secret = \"" + component_secret + "\"\n";
}

std::string write_initial_config(const InitOptions& options) {
  if (!valid_domain(options.xmpp_domain)) {
    throw std::runtime_error("--xmpp-domain must be a DNS name (letters, digits, '-' and '.'), not '" +
                             options.xmpp_domain + "'");
  }
  struct stat existing {};
  if (!options.force && ::stat(options.config_path.c_str(), &existing) == 0) {
    throw std::runtime_error(options.config_path + " exists; keep it, or replace it with --force");
  }
  const std::string secret = proto::random_hex(32);
  const std::string tmp = options.config_path + ".tmp";
  {
    // Created 0640 from the start: the file holds the component secret.
    const mode_t old_mask = ::umask(027);
    std::ofstream out(tmp, std::ios::trunc);
    ::umask(old_mask);
    out << initial_config(options, secret);
    out.close();
    if (!out) throw std::runtime_error("cannot write " + tmp);
  }
  if (!options.group.empty()) {
    const group* g = ::getgrnam(options.group.c_str());
    if (g == nullptr || ::chown(tmp.c_str(), static_cast<uid_t>(-1), g->gr_gid) != 0) {
      std::remove(tmp.c_str());
      throw std::runtime_error("cannot give " + options.config_path + " to group '" + options.group + "'");
    }
  }
  if (std::rename(tmp.c_str(), options.config_path.c_str()) != 0) {
    throw std::runtime_error("cannot rename " + tmp + " to " + options.config_path);
  }
  return prosody_component_snippet(options, secret);
}

}  // namespace muster::hub
