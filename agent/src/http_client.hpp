#pragma once
#include <string>

#include "muster/proto/result.hpp"

namespace muster::agent {

struct HttpResponse {
  long status = 0;
  std::string body;
};

// HTTPS client (libcurl). Peer and host name are always verified; `ca_file`
// empty means the system store.
proto::Result<HttpResponse> http_post_json(const std::string& url, const std::string& bearer_token,
                                           const std::string& body, const std::string& ca_file);

}  // namespace muster::agent
