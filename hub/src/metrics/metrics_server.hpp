#pragma once
// The operations listener, apart from the api's: GET /metrics (Prometheus
// text format, behind a bearer token when one is configured), GET /healthz
// (the process answers) and GET /readyz (200 when it can do its work, else
// 503 naming why). Plain HTTP, meant for loopback or a private network, so
// a master without an api role can be scraped and probed too.
#include <functional>
#include <memory>
#include <string>

#include <Poco/Net/HTTPServer.h>

namespace muster::hub {

struct MetricsServerConfig {
  std::string host;
  unsigned short port = 0;  // 0: any free port (tests)
  std::string token;        // empty: no token needed
};

class MetricsServer {
 public:
  // `readiness_problem`: empty when ready, else why not.
  MetricsServer(MetricsServerConfig config, std::function<std::string()> readiness_problem);
  ~MetricsServer();
  void start();
  void stop();
  unsigned short port() const;

 private:
  MetricsServerConfig config_;
  std::function<std::string()> readiness_problem_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;
};

}  // namespace muster::hub
