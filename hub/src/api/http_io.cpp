#include "api/http_io.hpp"

#include <Poco/NumberParser.h>

#include "core/errors.hpp"
#include "muster/proto/json.hpp"

namespace muster::hub {

void send_json(Poco::Net::HTTPServerResponse& response, int status, const std::string& body) {
  response.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
  response.setContentType("application/json");
  response.set("Cache-Control", "no-store");
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
}

void send_error(Poco::Net::HTTPServerResponse& response, int status, const std::string& code,
                const std::string& message) {
  proto::JsonBuilder error;
  error.add("code", code).add("message", message);
  send_json(response, status, proto::JsonBuilder().add_node("error", error.release()).dump());
}

std::string read_body(Poco::Net::HTTPServerRequest& request, Poco::Net::HTTPServerResponse& response) {
  if (!request.hasContentLength() && !request.getChunkedTransferEncoding()) {
    throw ApiError(411, "length_required", request.getMethod() + " needs a body with a Content-Length");
  }
  constexpr std::size_t kDrainLimit = 16 * kMaxRequestBody;
  std::string body;
  std::size_t seen = 0;
  std::istream& in = request.stream();
  char buffer[16384];
  while (seen <= kDrainLimit && (in.read(buffer, sizeof buffer) || in.gcount() > 0)) {
    const auto n = static_cast<std::size_t>(in.gcount());
    seen += n;
    if (seen <= kMaxRequestBody) body.append(buffer, n);
  }
  if (seen > kMaxRequestBody) {
    response.setKeepAlive(false);
    throw ApiError(413, "too_large", "request body over " + std::to_string(kMaxRequestBody) + " bytes");
  }
  return body;
}

Query::Query(const std::string& uri) {
  try {
    params_ = Poco::URI(uri).getQueryParameters();
  } catch (const Poco::Exception&) {
    throw ApiError(400, "invalid_field", "malformed query string");
  }
}

std::optional<std::string> Query::get(const std::string& name) const {
  for (const auto& [k, v] : params_) {
    if (k == name) return v;
  }
  return std::nullopt;
}

bool Query::flag(const std::string& name) const {
  const auto v = get(name);
  if (!v) return false;
  if (*v == "1" || *v == "true" || v->empty()) return true;
  if (*v == "0" || *v == "false") return false;
  throw ApiError(400, "invalid_field", name + " must be 1 or 0");
}

Page Query::page() const {
  Page page;
  if (const auto limit = get("limit")) {
    unsigned value = 0;
    if (!Poco::NumberParser::tryParseUnsigned(*limit, value) || value < 1 || value > 1000) {
      throw ApiError(400, "invalid_field", "limit must be an integer between 1 and 1000");
    }
    page.limit = value;
  }
  if (const auto cursor = get("cursor")) {
    // Each list checks what its cursors mean; none is long or needs other characters.
    if (cursor->empty() || cursor->size() > 64 || cursor->find_first_not_of("0123456789abcdef.-") != std::string::npos) {
      throw ApiError(400, "invalid_field", "cursor must be the next_cursor of a previous page");
    }
    page.cursor = *cursor;
  }
  return page;
}

}  // namespace muster::hub
