#pragma once
#include <stdexcept>
#include <string>

namespace muster::hub {

// A request the api refuses; the HTTP layer turns it into
// {"error": {"code", "message"}} with `status`.
struct ApiError : std::runtime_error {
  ApiError(int http_status, std::string error_code, const std::string& message)
      : std::runtime_error(message), status(http_status), code(std::move(error_code)) {}
  int status;
  std::string code;
};

}  // namespace muster::hub
