#pragma once
// `muster-hub init`: the first configuration of a single-machine hub (role
// all: api and master beside one Redis and one Prosody), written once so an
// operator starts from a working file with its own secret, not an example.
#include <string>

namespace muster::hub {

struct InitOptions {
  std::string config_path;  // e.g. /etc/muster/hub.ini; certificates go beside it
  std::string xmpp_domain;  // the XMPP domain agents get accounts in
  std::string api_listen = "0.0.0.0:8443";
  std::string state_dir = "/var/lib/muster-hub";  // the signing key the hub creates and keeps
  std::string group;  // if set, the file's group (the service's), so it can read the secret
  bool force = false;  // replace an existing file
};

// The configuration text for `options`, with `component_secret` in it.
std::string initial_config(const InitOptions& options, const std::string& component_secret);

// The lines of Prosody's configuration that match it (the component the
// master logs in to), for the operator to add.
std::string prosody_component_snippet(const InitOptions& options, const std::string& component_secret);

// Writes initial_config() to options.config_path (mode 0640) with a new
// random secret and returns the snippet; throws std::runtime_error with the
// reason (file exists without force, invalid domain, cannot write).
std::string write_initial_config(const InitOptions& options);

}  // namespace muster::hub
