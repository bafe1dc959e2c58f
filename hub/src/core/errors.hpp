#pragma once
#include <stdexcept>
#include <string>

namespace muster::hub {

// A request the api refuses; the HTTP layer turns it into
// {"error": {"code", "message"}} with `status`, and a Retry-After header
// when the refusal ends by itself after `retry_after_s`.
struct ApiError : std::runtime_error {
  ApiError(int http_status, std::string error_code, const std::string& message, int retry_after = 0)
      : std::runtime_error(message), status(http_status), code(std::move(error_code)), retry_after_s(retry_after) {}
  int status;
  std::string code;
  int retry_after_s;
};

}  // namespace muster::hub
