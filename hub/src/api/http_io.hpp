#pragma once
// The small pieces every API handler uses: JSON answers and errors, a body
// read with a size bound, strict query parameters.
#include <optional>
#include <string>

#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/URI.h>

#include "core/jobs.hpp"

namespace muster::hub {

inline constexpr std::size_t kMaxRequestBody = 1 << 20;

void send_json(Poco::Net::HTTPServerResponse& response, int status, const std::string& body);
// {"error": {"code", "message"}}
void send_error(Poco::Net::HTTPServerResponse& response, int status, const std::string& code,
                const std::string& message);
// The request's body (the connection loop has framed it whole, within
// kMaxRequestBody); 411 when the client gave no length, 413 over the bound.
std::string read_body(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response);

// Query parameters, strictly: unknown names are ignored, bad values refused.
class Query {
 public:
  explicit Query(const std::string& uri);
  std::optional<std::string> get(const std::string& name) const;
  bool flag(const std::string& name) const;
  Page page() const;

 private:
  Poco::URI::QueryParameters params_;
};

}  // namespace muster::hub
