#pragma once
// Where `muster` finds its hub: a profile in the config file
// (~/.config/muster/config, INI: one [NAME] section per hub with url,
// ca_file, token_file), then the environment (MUSTER_URL, MUSTER_CA,
// MUSTER_TOKEN), then the command line (--url, --ca), each overriding the one
// before.
#include <functional>
#include <string>

namespace muster::cli {

struct Profile {
  std::string name;
  std::string url;         // https://hub:8443, without a trailing slash
  std::string ca_file;     // empty: the system store
  std::string token;       // the bearer token itself
  std::string token_file;  // where the token came from, for messages
};

// Reads the environment; tests pass their own.
using Getenv = std::function<const char*(const char*)>;

struct ProfileChoice {
  std::string name;  // --profile; empty: MUSTER_PROFILE, else "default"
  std::string url;   // --url
  std::string ca;    // --ca
};

// The config file's path: $MUSTER_CONFIG, else $XDG_CONFIG_HOME/muster/config,
// else $HOME/.config/muster/config.
std::string config_path(const Getenv& env);

// Resolves the profile from the config file's text (empty if there is no
// file), the environment and the choice. Throws CliError(kExitUsage) naming
// the file and line for a malformed file, an unknown profile asked for by
// name, or no URL or token at all. `read_file` reads the token file.
Profile resolve_profile(const std::string& config_text, const std::string& config_file, const ProfileChoice& choice,
                        const Getenv& env, const std::function<std::string(const std::string&)>& read_file);

// Loads config_path(env) and resolves with the real environment and files.
Profile load_profile(const ProfileChoice& choice);

}  // namespace muster::cli
