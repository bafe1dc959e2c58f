// The metrics registry's text format and the operations listener's answers:
// a token when one is set, readiness with its reason, JSON errors.
#include <gtest/gtest.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <string>

#include "metrics/metrics.hpp"
#include "metrics/metrics_server.hpp"

namespace muster::hub {
namespace {

TEST(Metrics, SeriesRenderInTheTextFormat) {
  metrics::Registry r;
  r.counter("t_requests_total", "Requests", {{"route", "/a"}, {"code", "200"}}).add(2);
  r.counter("t_requests_total", "Requests", {{"route", "/a"}, {"code", "200"}}).add();
  r.gauge("t_open", "Open \"things\"").set(4);
  auto& h = r.histogram("t_seconds", "Time", {{"route", "/a\"b"}});
  h.observe(0.003);
  h.observe(20);
  const std::string text = r.render();
  EXPECT_NE(text.find("# HELP t_requests_total Requests\n# TYPE t_requests_total counter\n"
                      "t_requests_total{route=\"/a\",code=\"200\"} 3\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE t_open gauge\nt_open 4\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{route=\"/a\\\"b\",le=\"0.0025\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{route=\"/a\\\"b\",le=\"0.005\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_bucket{route=\"/a\\\"b\",le=\"+Inf\"} 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_seconds_count{route=\"/a\\\"b\"} 2\n"), std::string::npos) << text;
  EXPECT_THROW(r.gauge("t_requests_total", "Requests"), std::logic_error);
}

struct Answer {
  int status;
  std::string body;
};

Answer get(unsigned short port, const std::string& path, const std::string& token = "") {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  Poco::Net::HTTPRequest request("GET", path, Poco::Net::HTTPMessage::HTTP_1_1);
  if (!token.empty()) request.set("Authorization", "Bearer " + token);
  session.sendRequest(request);
  Poco::Net::HTTPResponse response;
  Answer a{0, ""};
  Poco::StreamCopier::copyToString(session.receiveResponse(response), a.body);
  a.status = response.getStatus();
  return a;
}

TEST(MetricsServer, MetricsNeedTheTokenAndReadinessSaysWhy) {
  std::string problem = "the store does not answer";
  MetricsServer server({"127.0.0.1", 0, "s3cret"}, [&] { return problem; });
  server.start();
  EXPECT_EQ(get(server.port(), "/metrics").status, 401);
  EXPECT_EQ(get(server.port(), "/metrics", "wrong").status, 401);
  const Answer metrics = get(server.port(), "/metrics", "s3cret");
  EXPECT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("process_resident_memory_bytes "), std::string::npos) << metrics.body;
  EXPECT_EQ(get(server.port(), "/healthz").status, 200);  // never behind the token
  const Answer not_ready = get(server.port(), "/readyz");
  EXPECT_EQ(not_ready.status, 503);
  EXPECT_NE(not_ready.body.find(problem), std::string::npos) << not_ready.body;
  problem.clear();
  EXPECT_EQ(get(server.port(), "/readyz").status, 200);
  const Answer missing = get(server.port(), "/metricz");
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.body.find("\"not_found\""), std::string::npos) << missing.body;
  server.stop();
}

}  // namespace
}  // namespace muster::hub
