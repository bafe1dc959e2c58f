#include "muster/proto/http_client.hpp"

#include <curl/curl.h>

#include <memory>

#include "muster/proto/json.hpp"

namespace muster::proto {
namespace {

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};

struct Transfer {
  CURL* curl;
  const HttpRequest* request;
  HttpResponse* response;
  bool aborted = false;
};

bool streams_to_caller(const Transfer& t) {
  if (!t.request->on_data) return false;
  long status = 0;
  curl_easy_getinfo(t.curl, CURLINFO_RESPONSE_CODE, &status);
  return status >= 200 && status <= 299;  // an error answer is collected for its message
}

std::size_t receive(char* data, std::size_t size, std::size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t n = size * count;
  if (streams_to_caller(*t)) {
    if (!t->request->on_data(std::string_view(data, n))) {
      t->aborted = true;
      return 0;  // ends the transfer
    }
    return n;
  }
  if (t->response->body.size() + n > t->request->max_body_bytes) return 0;
  t->response->body.append(data, n);
  return n;
}

int progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->keep_going && !t->request->keep_going()) {
    t->aborted = true;
    return 1;  // ends the transfer
  }
  return 0;
}

HttpFailure classify(CURLcode rc) {
  switch (rc) {
    case CURLE_OK: return HttpFailure::none;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT: return HttpFailure::bad_url;
    case CURLE_COULDNT_RESOLVE_HOST: return HttpFailure::resolve;
    case CURLE_COULDNT_CONNECT: return HttpFailure::connect;
    case CURLE_OPERATION_TIMEDOUT: return HttpFailure::timeout;
    case CURLE_SSL_CACERT_BADFILE: return HttpFailure::ca_file;
    case CURLE_PEER_FAILED_VERIFICATION: return HttpFailure::tls_verify;
    case CURLE_SSL_CONNECT_ERROR: return HttpFailure::tls;
    case CURLE_ABORTED_BY_CALLBACK: return HttpFailure::aborted;
    default: return HttpFailure::other;
  }
}

void set_options(CURL* c, const HttpRequest& request, curl_slist* headers) {
  curl_easy_setopt(c, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  if (!request.body.empty() || request.method == "POST") {
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, request.body.c_str());
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  }
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
  curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, request.connect_timeout_s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT, request.timeout_s);
  if (request.stall_timeout_s > 0) {
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, request.stall_timeout_s);
  }
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  if (!request.ca_file.empty()) curl_easy_setopt(c, CURLOPT_CAINFO, request.ca_file.c_str());
}

}  // namespace

HttpResponse http_request(const HttpRequest& request) {
  HttpResponse response;
  static const bool initialized = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK;
  std::unique_ptr<CURL, CurlDeleter> curl(initialized ? curl_easy_init() : nullptr);
  if (!curl) {
    response.failure = HttpFailure::other;
    response.error = "libcurl failed to initialize";
    return response;
  }
  bool has_accept = false;
  for (const auto& header : request.headers) has_accept = has_accept || header.rfind("Accept:", 0) == 0;
  curl_slist* raw_headers = has_accept ? nullptr : curl_slist_append(nullptr, "Accept: application/json");
  if (!request.body.empty()) raw_headers = curl_slist_append(raw_headers, "Content-Type: application/json");
  const std::string auth = "Authorization: Bearer " + request.bearer_token;
  if (!request.bearer_token.empty()) raw_headers = curl_slist_append(raw_headers, auth.c_str());
  for (const auto& header : request.headers) raw_headers = curl_slist_append(raw_headers, header.c_str());
  std::unique_ptr<curl_slist, SlistDeleter> headers(raw_headers);

  Transfer transfer{curl.get(), &request, &response};
  char error_text[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  set_options(c, request, headers.get());
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, receive);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text);
  if (request.keep_going) {
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, &transfer);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  }

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &response.status);
  if (rc != CURLE_OK) {
    response.failure = transfer.aborted ? HttpFailure::aborted : classify(rc);
    response.error = error_text[0] != '\0' ? error_text : curl_easy_strerror(rc);
  }
  return response;
}

Result<HttpResponse> http_post_json(const std::string& url, const std::string& bearer_token, const std::string& body,
                                    const std::string& ca_file) {
  HttpRequest request;
  request.method = "POST";
  request.url = url;
  request.bearer_token = bearer_token;
  request.body = body;
  request.ca_file = ca_file;
  HttpResponse response = http_request(request);
  if (response.failure != HttpFailure::none) return Error{ErrorCode::io, "POST " + url + ": " + response.error};
  return response;
}

bool parse_api_error(std::string_view body, ApiErrorBody& out) {
  auto root = parse_object(body);
  if (!root) return false;
  const cJSON* error = nullptr;
  FieldReader(root->get(), "").optional_object("error", error);
  if (error == nullptr) return false;
  ApiErrorBody parsed;
  FieldReader reader(error, "error");
  reader.required("code", parsed.code, 64).required("message", parsed.message);
  if (!reader.ok()) return false;
  out = std::move(parsed);
  return true;
}

}  // namespace muster::proto
