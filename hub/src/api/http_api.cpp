#include "api/http_api.hpp"

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/SecureServerSocket.h>
#include <Poco/Net/ServerSocket.h>

#include "api/http_io.hpp"
#include "core/errors.hpp"
#include "muster/proto/log.hpp"

namespace muster::hub {
namespace {

using Poco::Net::HTTPRequest;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

Role needed_role(Access access) {
  switch (access) {
    case Access::admin: return Role::admin;
    case Access::operator_: return Role::operator_;
    default: return Role::viewer;
  }
}

class ApiHandler final : public Poco::Net::HTTPRequestHandler {
 public:
  explicit ApiHandler(ApiServices& services) : s_(services) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    Call call{s_, request, response, {}, std::nullopt};
    int status = 200;
    try {
      const Route& route = match_route(request.getMethod(), request.getURI(), call.params);
      // Authenticate and check access before reading the body: strangers get
      // nothing parsed.
      if (route.access != Access::open) {
        call.principal = s_.auth.authenticate(request.get("Authorization", ""));
        if (route.access != Access::any_token) require_role(*call.principal, needed_role(route.access));
      }
      route.handle(call);
      status = response.getStatus();
    } catch (const ApiError& e) {
      status = e.status;
      fail(request, response, e.status, e.code, e.what());
    } catch (const StoreError& e) {
      status = 503;
      log::warn("api", std::string("store: ") + e.what());
      fail(request, response, 503, "unavailable", std::string("the store is unavailable: ") + e.what());
    } catch (const std::exception& e) {
      status = 500;
      log::error("api", request.getMethod() + " " + request.getURI().substr(0, 256) + ": " + e.what());
      fail(request, response, 500, "internal", e.what());
    }
    if (call.principal && request.getMethod() != HTTPRequest::HTTP_GET) {
      s_.audit.record(*call.principal,
                      {request.getMethod(), request.getURI(), request.clientAddress().host().toString(), status});
    }
  }

 private:
  static void fail(HTTPServerRequest& request, HTTPServerResponse& response, int status, const std::string& code,
                   const std::string& message) {
    if (response.sent()) return;
    // A body the handler may not have read must not be taken for the next request.
    if (request.getChunkedTransferEncoding() || (request.hasContentLength() && request.getContentLength() > 0)) {
      response.setKeepAlive(false);
    }
    send_error(response, status, code, message);
  }

  ApiServices& s_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit Factory(ApiServices& services) : s_(services) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override { return new ApiHandler(s_); }

 private:
  ApiServices& s_;
};

}  // namespace

HttpApi::HttpApi(ApiServices services) : services_(services) {}
HttpApi::~HttpApi() { stop(); }

void HttpApi::start() {
  const auto& c = services_.config;
  const Poco::Net::SocketAddress address(c.api_host, c.api_port);
  Poco::Net::ServerSocket socket;
  if (!c.tls_cert.empty()) {
    Poco::Net::Context::Ptr context = new Poco::Net::Context(Poco::Net::Context::TLS_SERVER_USE, c.tls_key,
                                                             c.tls_cert, "", Poco::Net::Context::VERIFY_NONE);
    context->disableProtocols(Poco::Net::Context::PROTO_SSLV2 | Poco::Net::Context::PROTO_SSLV3 |
                              Poco::Net::Context::PROTO_TLSV1 | Poco::Net::Context::PROTO_TLSV1_1);
    socket = Poco::Net::SecureServerSocket(address, 128, context);
  } else {
    socket = Poco::Net::ServerSocket(address, 128);
  }
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(c.api_threads);
  params->setMaxQueued(256);
  params->setKeepAlive(true);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(services_), socket, params);
  server_->start();
}

void HttpApi::stop() {
  if (server_) {
    server_->stopAll(true);
    server_.reset();
  }
}

unsigned short HttpApi::port() const { return server_ ? server_->port() : 0; }

}  // namespace muster::hub
