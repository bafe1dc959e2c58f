#pragma once
// The api role's HTTP(S) server: routes, bearer auth, JSON errors.
#include <memory>

#include <Poco/Net/HTTPServer.h>

#include "config.hpp"
#include "core/agents.hpp"
#include "core/auth.hpp"
#include "core/jobs.hpp"
#include "store/store.hpp"

namespace muster::hub {

inline constexpr std::size_t kMaxRequestBody = 1 << 20;

struct ApiServices {
  const HubConfig& config;
  Store& store;
  Auth& auth;
  Agents& agents;
  Jobs& jobs;
};

class HttpApi {
 public:
  explicit HttpApi(ApiServices services);
  ~HttpApi();
  void start();
  void stop();
  unsigned short port() const;

 private:
  ApiServices services_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace muster::hub
