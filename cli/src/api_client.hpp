#pragma once
// The hub's REST API as `muster` uses it: JSON in, JSON out, and every way a
// call can fail turned into a CliError with the documented exit code and one
// line that says what to check.
#include <functional>
#include <string>
#include <string_view>

#include "muster/proto/http_client.hpp"
#include "muster/proto/json.hpp"
#include "profile.hpp"

namespace muster::cli {

class ApiClient {
 public:
  explicit ApiClient(Profile profile) : profile_(std::move(profile)) {}

  // One call; returns the parsed JSON object of a 2xx answer. Throws
  // CliError: kExitApiError with the API's code and message, or
  // kExitUnreachable with advice.
  proto::JsonPtr call(const std::string& method, const std::string& path, const std::string& body = "");
  // The raw 2xx body (for --json, which prints exactly what the API said).
  std::string call_raw(const std::string& method, const std::string& path, const std::string& body = "");

  struct Stream {
    std::string path;
    std::string last_event_id;  // sent as Last-Event-ID when not empty
    std::function<bool(std::string_view)> on_data;
    std::function<bool()> keep_going;
  };
  // Reads an event stream until it ends. Returns the answer, whose failure
  // says why it ended (none: the hub ended it); throws ApiError for an HTTP
  // error answer.
  proto::HttpResponse stream(const Stream& s);

  const Profile& profile() const { return profile_; }

 private:
  proto::HttpRequest request(const std::string& method, const std::string& path) const;
  [[noreturn]] void fail(const std::string& what, const proto::HttpResponse& response) const;

  Profile profile_;
};

// One line for a transport failure: what happened and what to check.
std::string describe_failure(const Profile& profile, const proto::HttpResponse& response);

// "unauthorized: the token is unknown (HTTP 401)" from an error answer.
std::string describe_api_error(long status, std::string_view body);

}  // namespace muster::cli
