#include "api/http_api.hpp"

#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/ServerSocket.h>

#include <chrono>

#include "api/exchange.hpp"
#include "api/http_io.hpp"
#include "core/errors.hpp"
#include "metrics/metrics.hpp"
#include "muster/proto/log.hpp"

namespace muster::hub {
namespace {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

Role needed_role(Access access) {
  switch (access) {
    case Access::platform: return Role::platform;
    case Access::admin: return Role::admin;
    case Access::operator_: return Role::operator_;
    default: return Role::viewer;
  }
}

void fail(HTTPServerResponse& response, int status, const std::string& code, const std::string& message) {
  if (response.sent()) return;
  send_error(response, status, code, message);
}

// Labels are the route's pattern, never the path: ids would make a series each.
void count_request(const std::string& route, const std::string& method, int status,
                   std::chrono::steady_clock::time_point started) {
  auto& r = metrics::registry();
  r.counter("muster_http_requests_total", "API requests answered, by route, method and status",
            {{"route", route}, {"method", method}, {"code", std::to_string(status)}})
      .add();
  r.histogram("muster_http_request_duration_seconds", "Time to answer an API request, by route", {{"route", route}})
      .observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

// One request through the route table: access first (strangers get nothing
// parsed), then the handler; every error as JSON; every write audited.
void handle(ApiServices& s, EventStreams& streams, RateLimiter* token_rate, HTTPServerRequest& request,
            HTTPServerResponse& response) {
  Call call{s, request, response, {}, std::nullopt, &streams};
  int status = 200;
  const auto started = std::chrono::steady_clock::now();
  std::string route_name = "unmatched";
  try {
    const Route& route = match_route(request.getMethod(), request.getURI(), call.params);
    route_name = route.pattern;
    if (route.access != Access::open) {
      call.principal = s.auth.authenticate(request.get("Authorization", ""));
      // Api tokens only: an enrollment token is shared by a fleet enrolling at once, and bounded by its uses.
      const bool counted = token_rate != nullptr && call.principal->kind == TokenKind::api;
      if (const int wait = counted ? token_rate->wait_seconds(call.principal->token_id) : 0) {
        throw ApiError(429, "rate_limited",
                       "over " + std::to_string(s.config.api_limits.rate_per_token) + " requests a second with this token",
                       wait);
      }
      if (route.access != Access::any_token) require_role(*call.principal, needed_role(route.access));
    }
    route.handle(call);
    status = response.getStatus();
  } catch (const ApiError& e) {
    status = e.status;
    if (e.retry_after_s > 0 && !response.sent()) response.set("Retry-After", std::to_string(e.retry_after_s));
    fail(response, e.status, e.code, e.what());
  } catch (const StoreError& e) {
    status = 503;
    log::warn("api", std::string("store: ") + e.what());
    fail(response, 503, "unavailable", std::string("the store is unavailable: ") + e.what());
  } catch (const std::exception& e) {
    status = 500;
    log::error("api", request.getMethod() + " " + request.getURI().substr(0, 256) + ": " + e.what());
    fail(response, 500, "internal", e.what());
  }
  count_request(route_name, request.getMethod(), status, started);
  if (call.principal && request.getMethod() != HTTPRequest::HTTP_GET) {
    s.audit.record(*call.principal,
                   {request.getMethod(), request.getURI(), request.clientAddress().host().toString(), status});
  }
}

Poco::Net::Context::Ptr tls_context(const HubConfig& c) {
  if (c.tls_cert.empty()) return nullptr;
  Poco::Net::Context::Ptr context =
      new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, c.tls_key, c.tls_cert, "", Poco::Net::Context::VERIFY_NONE);
  context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                            Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
  return context;
}

}  // namespace

HttpApi::HttpApi(ApiServices services)
    : services_(services),
      params_(new Poco::Net::HTTPServerParams),
      token_rate_(services.config.api_limits.rate_per_token),
      rate_exempt_(services.config.api_limits.rate_exempt.begin(), services.config.api_limits.rate_exempt.end()) {}
HttpApi::~HttpApi() { stop(); }

void HttpApi::start() {
  const auto& c = services_.config;
  tls_ = tls_context(c);
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(c.api_host, c.api_port), 1024);
  streams_ = std::make_unique<EventStreams>(services_.store, c.api_limits.max_streams_per_token,
                                            c.api_limits.stream_heartbeat_s);
  loop_ = std::make_unique<ConnectionLoop>(
      socket, tls_ ? tls_->sslContext() : nullptr, c.api_limits,
      [this](std::uint64_t id, FramedRequest request, const Poco::Net::SocketAddress& client, bool secure) {
        enqueue(Work{id, std::move(request), client, secure});
      },
      *streams_);
  for (int i = 0; i < c.api_threads; ++i) workers_.emplace_back([this] { work(); });
  streams_->start(*loop_);
  loop_->start();
}

void HttpApi::stop() {
  if (!loop_) return;
  loop_->stop();
  streams_->stop();
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    stopping_ = true;
  }
  work_ready_.notify_all();
  for (auto& worker : workers_) worker.join();
  workers_.clear();
  loop_.reset();
  streams_.reset();
}

unsigned short HttpApi::port() const { return loop_ ? loop_->port() : 0; }

void HttpApi::enqueue(Work work) {
  {
    std::lock_guard<std::mutex> lock(work_mutex_);
    queue_.push_back(std::move(work));
  }
  work_ready_.notify_one();
}

void HttpApi::work() {
  for (;;) {
    std::unique_lock<std::mutex> lock(work_mutex_);
    work_ready_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    Work next = std::move(queue_.front());
    queue_.pop_front();
    lock.unlock();
    serve(next);
  }
}

void HttpApi::serve(Work& work) {
  BufferedResponse response;
  try {
    BufferedRequest request(std::move(work.request), work.client, loop_->address(), work.secure, *params_, response);
    response.setVersion(request.getVersion());
    response.setKeepAlive(request.getKeepAlive());
    // Clients from exempt addresses (an operator on this host) are not rate limited.
    const bool limited = token_rate_.enabled() && rate_exempt_.count(work.client.host().toString()) == 0;
    handle(services_, *streams_, limited ? &token_rate_ : nullptr, request, response);
  } catch (const std::exception& e) {
    log::error("api", std::string("request: ") + e.what());
    fail(response, 500, "internal", e.what());
  }
  loop_->answer(work.connection, response.wire(), response.getKeepAlive(), response.stream_wish());
}

}  // namespace muster::hub
