#include "api_client.hpp"

#include <unistd.h>

#include "errors.hpp"

namespace muster::cli {
namespace {

// An agent list of a large fleet is tens of megabytes; this is the most one
// answer may hold.
constexpr std::size_t kMaxAnswerBytes = std::size_t{256} << 20;

// The static libcurl has no CA store of its own: without a CA file, use the
// system's bundle where the common distributions keep it.
std::string system_ca_bundle() {
  static const char* const kBundles[] = {"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt",
                                         "/etc/ssl/ca-bundle.pem", "/etc/ssl/cert.pem"};
  for (const char* path : kBundles) {
    if (access(path, R_OK) == 0) return path;
  }
  return "";
}

std::string ca_advice(const Profile& p) {
  return p.ca_file.empty() ? "the system CA store; pass --ca FILE or set MUSTER_CA if the hub has a private CA"
                           : "--ca / MUSTER_CA / ca_file (" + p.ca_file + ")";
}

}  // namespace

std::string describe_failure(const Profile& p, const proto::HttpResponse& r) {
  using proto::HttpFailure;
  const std::string at = p.url + ": ";
  switch (r.failure) {
    case HttpFailure::bad_url: return at + r.error + "; check the hub URL (--url, MUSTER_URL, url)";
    case HttpFailure::resolve: return at + "unknown host; check the hub URL (--url, MUSTER_URL, url)";
    case HttpFailure::connect:
      return at + "cannot connect (" + r.error + "); check the hub URL and that the hub runs";
    case HttpFailure::timeout: return at + "no answer in time (" + r.error + "); check the hub URL and the network";
    case HttpFailure::ca_file: return at + "cannot use the CA file (" + r.error + "); check " + ca_advice(p);
    case HttpFailure::tls_verify:
      return at + "the hub's certificate does not verify (" + r.error + "); check " + ca_advice(p) +
             " and that the URL's host name is the certificate's";
    case HttpFailure::tls: return at + "TLS failed (" + r.error + "); check that the URL is the hub's HTTPS address";
    case HttpFailure::aborted: return at + "interrupted";
    case HttpFailure::none:
    case HttpFailure::other: break;
  }
  return at + r.error + "; check that the URL is the hub's HTTPS address";
}

std::string describe_api_error(long status, std::string_view body) {
  proto::ApiErrorBody error;
  if (proto::parse_api_error(body, error)) {
    return error.code + ": " + error.message + " (HTTP " + std::to_string(status) + ")";
  }
  std::string text(body.substr(0, 200));
  for (char& c : text) c = (c == '\n' || c == '\r') ? ' ' : c;
  return "HTTP " + std::to_string(status) + (text.empty() ? "" : ": " + text);
}

proto::HttpRequest ApiClient::request(const std::string& method, const std::string& path) const {
  proto::HttpRequest r;
  r.method = method;
  r.url = profile_.url + path;
  r.bearer_token = profile_.token;
  r.ca_file = profile_.ca_file.empty() ? system_ca_bundle() : profile_.ca_file;
  r.max_body_bytes = kMaxAnswerBytes;
  return r;
}

void ApiClient::fail(const std::string& what, const proto::HttpResponse& response) const {
  if (response.failure != proto::HttpFailure::none) {
    throw CliError(kExitUnreachable, describe_failure(profile_, response));
  }
  proto::ApiErrorBody error;
  proto::parse_api_error(response.body, error);
  throw ApiError(response.status, error.code, what + ": " + describe_api_error(response.status, response.body));
}

std::string ApiClient::call_raw(const std::string& method, const std::string& path, const std::string& body) {
  proto::HttpRequest r = request(method, path);
  r.body = body;
  const proto::HttpResponse response = proto::http_request(r);
  if (response.failure != proto::HttpFailure::none || response.status < 200 || response.status > 299) {
    fail(method + " " + path.substr(0, path.find('?')), response);
  }
  return response.body;
}

proto::JsonPtr ApiClient::call(const std::string& method, const std::string& path, const std::string& body) {
  const std::string text = call_raw(method, path, body);
  auto parsed = proto::parse_object(text, kMaxAnswerBytes);
  if (!parsed) throw CliError(kExitApiError, method + " " + path + ": bad answer: " + parsed.error().message);
  return std::move(*parsed);
}

proto::HttpResponse ApiClient::stream(const Stream& s) {
  proto::HttpRequest r = request("GET", s.path);
  r.timeout_s = 0;
  r.stall_timeout_s = 45;  // three missed heartbeats
  r.headers.push_back("Accept: text/event-stream");
  if (!s.last_event_id.empty()) r.headers.push_back("Last-Event-ID: " + s.last_event_id);
  r.on_data = s.on_data;
  r.keep_going = s.keep_going;
  proto::HttpResponse response = proto::http_request(r);
  if (response.status >= 300) fail("GET " + s.path.substr(0, s.path.find('?')), response);
  return response;
}

}  // namespace muster::cli
