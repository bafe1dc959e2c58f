#include "metrics/metrics_server.hpp"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

#include "api/http_io.hpp"
#include "metrics/metrics.hpp"
#include "muster/proto/json.hpp"

namespace muster::hub {
namespace {

using Poco::Net::HTTPResponse;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

void answer(HTTPServerResponse& response, HTTPResponse::HTTPStatus status, const std::string& type,
            const std::string& body) {
  response.setStatus(status);
  response.setContentType(type);
  response.setContentLength(static_cast<std::streamsize>(body.size()));
  response.send() << body;
}

class Handler final : public Poco::Net::HTTPRequestHandler {
 public:
  Handler(const MetricsServerConfig& config, const std::function<std::string()>& readiness)
      : config_(config), readiness_(readiness) {}

  void handleRequest(HTTPServerRequest& request, HTTPServerResponse& response) override {
    const std::string path = request.getURI().substr(0, request.getURI().find('?'));
    if (request.getMethod() != "GET") {
      send_error(response, HTTPResponse::HTTP_METHOD_NOT_ALLOWED, "method_not_allowed", path + " accepts GET only");
    } else if (path == "/metrics") {
      metrics(request, response);
    } else if (path == "/healthz") {
      send_json(response, HTTPResponse::HTTP_OK, R"({"status":"ok"})");
    } else if (path == "/readyz") {
      const std::string problem = readiness_();
      if (problem.empty()) {
        send_json(response, HTTPResponse::HTTP_OK, R"({"status":"ready"})");
      } else {
        send_json(response, HTTPResponse::HTTP_SERVICE_UNAVAILABLE,
                  proto::JsonBuilder().add("status", "not_ready").add("reason", problem).dump());
      }
    } else {
      send_error(response, HTTPResponse::HTTP_NOT_FOUND, "not_found", "no route " + path.substr(0, 256));
    }
  }

 private:
  void metrics(HTTPServerRequest& request, HTTPServerResponse& response) {
    if (!config_.token.empty() && request.get("Authorization", "") != "Bearer " + config_.token) {
      response.set("WWW-Authenticate", "Bearer");
      send_error(response, HTTPResponse::HTTP_UNAUTHORIZED, "unauthorized", "/metrics needs the metrics token");
      return;
    }
    auto& registry = metrics::registry();
    metrics::update_process_metrics(registry);
    answer(response, HTTPResponse::HTTP_OK, "text/plain; version=0.0.4; charset=utf-8", registry.render());
  }

  const MetricsServerConfig& config_;
  const std::function<std::string()>& readiness_;
};

class Factory final : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  Factory(const MetricsServerConfig& config, const std::function<std::string()>& readiness)
      : config_(config), readiness_(readiness) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
    return new Handler(config_, readiness_);
  }

 private:
  const MetricsServerConfig& config_;
  const std::function<std::string()>& readiness_;
};

}  // namespace

MetricsServer::MetricsServer(MetricsServerConfig config, std::function<std::string()> readiness_problem)
    : config_(std::move(config)), readiness_problem_(std::move(readiness_problem)) {}

MetricsServer::~MetricsServer() { stop(); }

void MetricsServer::start() {
  auto* params = new Poco::Net::HTTPServerParams;
  params->setMaxThreads(2);
  params->setMaxQueued(64);
  params->setTimeout(Poco::Timespan(10, 0));
  Poco::Net::ServerSocket socket(Poco::Net::SocketAddress(config_.host, config_.port), 64);
  server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(config_, readiness_problem_), socket, params);
  server_->start();
}

void MetricsServer::stop() {
  if (!server_) return;
  server_->stopAll(true);
  server_.reset();
}

unsigned short MetricsServer::port() const { return server_ ? server_->port() : 0; }

}  // namespace muster::hub
