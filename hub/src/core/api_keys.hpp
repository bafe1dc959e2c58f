#pragma once
// The api's signing key and the public keys agents pin at enrollment.
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "muster/proto/signing.hpp"

namespace muster::hub {

struct ApiKeys {
  std::unique_ptr<proto::Signer> signer;
  std::vector<std::string> public_pems;  // the signer's first, then trusted_keys

  // Throws ConfigError when a key cannot be read or created.
  static ApiKeys load(const HubConfig& config);
};

}  // namespace muster::hub
