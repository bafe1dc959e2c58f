#include "core/api_keys.hpp"

#include <fstream>
#include <sstream>

namespace muster::hub {

ApiKeys ApiKeys::load(const HubConfig& config) {
  ApiKeys keys;
  auto signer = proto::Signer::load_or_create(config.signing_key);
  if (!signer) throw ConfigError("api.signing_key " + config.signing_key + ": " + signer.error().message);
  keys.signer = std::move(*signer);
  keys.public_pems.push_back(keys.signer->public_pem());
  for (const auto& path : config.trusted_keys) {
    std::ifstream in(path);
    std::stringstream pem;
    pem << in.rdbuf();
    if (!in || !proto::public_key_id(pem.str())) throw ConfigError("api.trusted_keys: " + path + " is not a P-256 public key");
    keys.public_pems.push_back(pem.str());
  }
  return keys;
}

}  // namespace muster::hub
