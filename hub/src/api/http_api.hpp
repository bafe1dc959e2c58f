#pragma once
// The api role's HTTP(S) server: the route table (api/routes.hpp), bearer
// authentication and access checks from it, JSON for every error, and the
// audit of every write.
#include <memory>

#include <Poco/Net/HTTPServer.h>

#include "api/routes.hpp"

namespace muster::hub {

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
