#pragma once
// The one HTTPS client of Muster's C++ programs without Poco (the agent's
// enrollment, the `muster` command line): libcurl with peer and host name
// always verified. `ca_file` empty means the system store.
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "muster/proto/result.hpp"

namespace muster::proto {

// Why a request got no HTTP answer; callers turn it into advice (check the
// URL, check the CA file).
enum class HttpFailure {
  none,
  bad_url,     // not an http(s) URL, or a malformed one
  resolve,     // the host name does not resolve
  connect,     // nothing listens, or a firewall drops the connection
  timeout,     // connect or transfer took too long
  ca_file,     // the CA file cannot be read or holds no certificate
  tls_verify,  // the server's certificate does not verify against the CA, or names another host
  tls,         // another TLS failure (plain HTTP port, protocol mismatch)
  aborted,     // the caller's on_data or keep_going said stop
  other,
};

struct HttpRequest {
  std::string method = "GET";
  std::string url;
  std::string bearer_token;
  std::string body;  // sent as application/json when not empty
  std::string ca_file;
  std::vector<std::string> headers;  // extra "Name: value" lines
  long connect_timeout_s = 10;
  long timeout_s = 60;  // 0: none (event streams)
  // A stream that delivers fewer than 1 byte a second for this long is
  // given up (0: never); an event stream's heartbeat keeps it above that.
  long stall_timeout_s = 0;
  std::size_t max_body_bytes = 1 << 20;
  // Streaming: when set, a 2xx answer's body is handed over as it arrives
  // instead of being collected (an error answer's body is still collected);
  // returning false ends the transfer (HttpFailure::aborted).
  std::function<bool(std::string_view)> on_data;
  // Called about once a second while waiting, and between pieces of data;
  // returning false ends the transfer (HttpFailure::aborted).
  std::function<bool()> keep_going;
};

struct HttpResponse {
  long status = 0;  // 0 when no HTTP answer came
  std::string body;
  HttpFailure failure = HttpFailure::none;
  std::string error;  // libcurl's words for the failure
};

HttpResponse http_request(const HttpRequest& request);

// POST of a JSON body; an error when no HTTP answer came.
Result<HttpResponse> http_post_json(const std::string& url, const std::string& bearer_token, const std::string& body,
                                    const std::string& ca_file);

// The API's error body {"error": {"code", "message"}}; false if `body` has
// another shape.
struct ApiErrorBody {
  std::string code;
  std::string message;
};
bool parse_api_error(std::string_view body, ApiErrorBody& out);

}  // namespace muster::proto
