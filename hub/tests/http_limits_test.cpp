// What one client may hold of the api, on a real server socket (port 0,
// plain HTTP) against a private redis-server, with limits of a second or so:
// silent, slow and malformed clients get a JSON answer or a clean close
// within their timeout and never keep others from being served; event
// streams hold no worker and resume exactly.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/http_api.hpp"
#include "api_core.hpp"
#include "muster/proto/uuid.hpp"
#include "raw_client.hpp"
#include "redis_server.hpp"
#include "store/redis_api_store.hpp"

namespace muster::hub {
namespace {

using testing::RawClient;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

class HttpLimitsTest : public testing::RedisSuite {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/muster-hub-limits-XXXXXX";
    key_dir_ = ::mkdtemp(dir);
    config_.api_host = "127.0.0.1";
    config_.api_port = 0;
    config_.api_threads = 4;
    config_.api_limits.header_timeout_s = 1;
    config_.api_limits.body_timeout_s = 1;
    config_.api_limits.max_connections_per_address = 200;
    config_.api_limits.max_streams_per_token = 12;
    config_.api_limits.stream_heartbeat_s = 1;
    config_.signing_key = key_dir_ + "/signing-key.pem";
    RegionConfig region;
    region.name = "default";
    region.xmpp_domain = "d.example";
    region.xmpp_ca_file = "/dev/null";
    region.shards = {"s0.d.example"};
    config_.regions = {region};
    core_ = std::make_unique<testing::ApiCore>(server_->fresh_store(16), config_);
    admin_ = core_->auth.create_api_token("acme", Role::admin, 3600).token;
  }

  void start() {
    api_ = std::make_unique<HttpApi>(core_->services);
    api_->start();
  }

  void TearDown() override {
    if (api_) api_->stop();
    std::system(("rm -rf " + key_dir_).c_str());
  }

  unsigned short port() const { return api_->port(); }
  std::string bearer() const { return "Authorization: Bearer " + admin_ + "\r\n"; }

  // One request on its own connection; the whole answer.
  std::unique_ptr<RawClient> request(const std::string& bytes, int timeout_ms = 3000) {
    auto client = std::make_unique<RawClient>(port());
    client->send(bytes);
    client->read_answer(timeout_ms);
    return client;
  }

  // A running job of tenant acme, as the store holds it.
  std::string running_job() {
    const std::string id = proto::new_uuid();
    core_->store->run({"HSET", "muster:job:{" + id + "}", "tenant", "acme", "state", "running", "created_at", "1"});
    return id;
  }
  std::string add_event(const std::string& job, const std::string& type, const std::string& state) {
    return core_->store->run({"XADD", "muster:job:{" + job + "}:events", "*", "type", type, "agent", "a1", "state", state})
        .text;
  }
  std::string events_request(const std::string& job, const std::string& last_id = "",
                             const std::string& token = "") {
    return "GET /api/v1/jobs/" + job + "/events HTTP/1.1\r\nHost: x\r\n" +
           (token.empty() ? bearer() : "Authorization: Bearer " + token + "\r\n") +
           (last_id.empty() ? "" : "Last-Event-ID: " + last_id + "\r\n") + "\r\n";
  }

  static std::string error_code(const std::string& body) {
    const auto at = body.find("\"code\":\"");
    if (at == std::string::npos) return "(no JSON error in: " + body.substr(0, 200) + ")";
    return body.substr(at + 8, body.find('"', at + 8) - at - 8);
  }

  std::string key_dir_;
  HubConfig config_;
  std::unique_ptr<testing::ApiCore> core_;
  std::unique_ptr<HttpApi> api_;
  std::string admin_;
};


TEST_F(HttpLimitsTest, SilentAndSlowClientsHoldNoWorker) {
  config_.api_limits.header_timeout_s = 3;
  start();
  std::vector<std::unique_ptr<RawClient>> idle, slow;
  for (int i = 0; i < 40; ++i) idle.push_back(std::make_unique<RawClient>(port()));
  for (int i = 0; i < 40; ++i) {
    slow.push_back(std::make_unique<RawClient>(port()));
    slow.back()->send("GET /healthz HTTP/1.1\r\nHo");
  }
  const auto start_time = Clock::now();
  auto health = request("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 1000);
  EXPECT_EQ(health->status(), 200) << health->received();
  EXPECT_LT(seconds_since(start_time), 1.0);
  // Each is closed within its timeout: the idle ones quietly, the slow ones with a 408.
  for (auto& c : idle) c->read(4500);
  for (auto& c : slow) c->read(4500);
  EXPECT_LT(seconds_since(start_time), 4.5);
  for (auto& c : idle) EXPECT_TRUE(c->closed());
  for (auto& c : slow) {
    EXPECT_TRUE(c->closed());
    EXPECT_EQ(c->status(), 408) << c->received();
    EXPECT_EQ(error_code(c->body()), "timeout");
  }
}

TEST_F(HttpLimitsTest, ABodyShorterThanAnnouncedIs408AfterTheBodyTimeout) {
  start();
  const auto start_time = Clock::now();
  auto c = request("POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\n" + bearer() + "Content-Length: 10\r\n\r\nab", 3000);
  EXPECT_EQ(c->status(), 408) << c->received();
  EXPECT_EQ(error_code(c->body()), "timeout");
  EXPECT_LT(seconds_since(start_time), 2.5);
  c->read(2000);
  EXPECT_TRUE(c->closed());
}

TEST_F(HttpLimitsTest, ErrorsBelowTheHandlersAreJsonWithTheirStatus) {
  start();
  struct Case {
    std::string bytes;
    int status;
    std::string code;
  };
  const std::string many_fields = [] {
    std::string h;
    for (int i = 0; i < 120; ++i) h += "X-F" + std::to_string(i) + ": v\r\n";
    return h;
  }();
  const std::vector<Case> cases = {
      {"HELLO\r\n\r\n", 400, "bad_request"},
      {"GET /healthz SPDY/3\r\n\r\n", 400, "bad_request"},
      {"GET /" + std::string(20000, 'a') + " HTTP/1.1\r\n\r\n", 414, "uri_too_long"},
      {"GET /healthz HTTP/1.1\r\nX-Big: " + std::string(20000, 'b') + "\r\n\r\n", 431, "headers_too_large"},
      {"GET /healthz HTTP/1.1\r\n" + many_fields + "\r\n", 431, "headers_too_large"},
      {"POST /api/v1/jobs HTTP/1.1\r\nContent-Length: abc\r\n\r\n", 400, "bad_request"},
      {"POST /api/v1/jobs HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", 400, "bad_request"},
      {"POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\n" + bearer() + "\r\n", 411, "length_required"},
      {"POST /api/v1/jobs HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n", 413, "too_large"},
      {"POST /api/v1/jobs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, "bad_request"},
      {"POST /api/v1/jobs HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 400, "bad_request"},
      // A chunked body reaches the handler whole.
      {"POST /api/v1/jobs HTTP/1.1\r\n" + bearer() + "Transfer-Encoding: chunked\r\n\r\n3\r\n{no\r\n2\r\nt}\r\n0\r\n\r\n",
       400, "bad_json"},
  };
  for (const auto& test : cases) {
    auto c = request(test.bytes);
    EXPECT_EQ(c->status(), test.status) << test.bytes.substr(0, 80) << "\n" << c->received();
    EXPECT_EQ(error_code(c->body()), test.code) << test.bytes.substr(0, 80);
    EXPECT_NE(c->received().find("Content-Type: application/json"), std::string::npos);
  }
}

TEST_F(HttpLimitsTest, TaskCursorsThatAreNoOffsetAre400) {
  start();
  const std::string job = running_job();
  for (const std::string cursor : {".5", "99999999999999999999", "-1", "1e3"}) {
    auto c = request("GET /api/v1/jobs/" + job + "/tasks?cursor=" + cursor + " HTTP/1.1\r\n" + bearer() + "\r\n");
    EXPECT_EQ(c->status(), 400) << cursor << ": " << c->received();
    EXPECT_EQ(error_code(c->body()), "invalid_field") << cursor;
  }
  auto ok = request("GET /api/v1/jobs/" + job + "/tasks?cursor=100 HTTP/1.1\r\n" + bearer() + "\r\n");
  EXPECT_EQ(ok->status(), 200) << ok->received();
}

TEST_F(HttpLimitsTest, ConnectionsOverTheAddressCapAre503AndOthersStillServed) {
  config_.api_limits.max_connections_per_address = 5;
  start();
  std::vector<std::unique_ptr<RawClient>> held;
  for (int i = 0; i < 5; ++i) held.push_back(std::make_unique<RawClient>(port(), "127.0.0.2"));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  RawClient over(port(), "127.0.0.2");
  over.read(2000);
  EXPECT_EQ(over.status(), 503) << over.received();
  EXPECT_EQ(error_code(over.body()), "too_many_connections");
  EXPECT_TRUE(over.closed());
  auto other = request("GET /healthz HTTP/1.1\r\n\r\n", 1000);
  EXPECT_EQ(other->status(), 200) << other->received();
}

TEST_F(HttpLimitsTest, EventStreamsHoldNoWorker) {
  start();
  const std::string job = running_job();
  std::vector<std::unique_ptr<RawClient>> watchers;
  for (int i = 0; i < 10; ++i) {  // more than the 4 workers
    watchers.push_back(std::make_unique<RawClient>(port()));
    watchers.back()->send(events_request(job));
  }
  for (auto& w : watchers) EXPECT_EQ((w->read(2000, "\r\n\r\n"), w->status()), 200) << w->received();
  const auto start_time = Clock::now();
  auto got = request("GET /api/v1/jobs/" + job + " HTTP/1.1\r\n" + bearer() + "\r\n", 1000);
  EXPECT_EQ(got->status(), 200) << got->received();
  EXPECT_LT(seconds_since(start_time), 1.0);
  // Every watcher sees the same events, then the end of the stream.
  const std::string first = add_event(job, "state", "running");
  const std::string last = add_event(job, "job", "succeeded");
  for (auto& w : watchers) {
    w->read(3000, "0\r\n\r\n");
    EXPECT_NE(w->received().find("id: " + first + "\nevent: state\n"), std::string::npos) << w->received();
    EXPECT_NE(w->received().find("id: " + last + "\nevent: job\n"), std::string::npos) << w->received();
    EXPECT_NE(w->received().find("\r\n0\r\n\r\n"), std::string::npos) << w->received();
  }
}

TEST_F(HttpLimitsTest, LastEventIdResumesExactly) {
  start();
  const std::string job = running_job();
  const std::string e1 = add_event(job, "state", "dispatched");
  const std::string e2 = add_event(job, "state", "running");
  RawClient early(port());
  early.send(events_request(job, e1));
  early.read(2000, e2);
  const std::string e3 = add_event(job, "state", "succeeded");
  const std::string e4 = add_event(job, "job", "succeeded");
  RawClient late(port());  // joins a job already watched, behind its cursor
  late.send(events_request(job, e2));
  for (RawClient* w : {&early, &late}) w->read(3000, "0\r\n\r\n");
  EXPECT_EQ(early.received().find("id: " + e1 + "\n"), std::string::npos) << early.received();
  for (const auto& id : {e2, e3, e4}) EXPECT_NE(early.received().find("id: " + id + "\n"), std::string::npos) << id;
  EXPECT_EQ(late.received().find("id: " + e2 + "\n"), std::string::npos) << late.received();
  for (const auto& id : {e3, e4}) EXPECT_NE(late.received().find("id: " + id + "\n"), std::string::npos) << id;
}

TEST_F(HttpLimitsTest, ALastEventIdTheStoreRefusesIs400) {
  start();
  const std::string job = running_job();
  for (const std::string id : {"1-2-3", "5-", "-", "abc", "18446744073709551616-0", "1-18446744073709551616"}) {
    auto c = request(events_request(job, id));
    EXPECT_EQ(c->status(), 400) << id << ": " << c->received();
    EXPECT_EQ(error_code(c->body()), "invalid_field") << id;
  }
}

TEST_F(HttpLimitsTest, StreamsPerTokenAreCappedAndHeartbeatsFlow) {
  config_.api_limits.max_streams_per_token = 3;
  start();
  const std::string job = running_job();
  std::vector<std::unique_ptr<RawClient>> watchers;
  for (int i = 0; i < 3; ++i) {
    watchers.push_back(std::make_unique<RawClient>(port()));
    watchers.back()->send(events_request(job));
    watchers.back()->read(2000, "\r\n\r\n");
  }
  auto over = request(events_request(job));
  EXPECT_EQ(over->status(), 429) << over->received();
  EXPECT_EQ(error_code(over->body()), "too_many_streams");
  // A heartbeat comes within its period (1 s here).
  watchers[0]->read(2500, ": keepalive");
  EXPECT_NE(watchers[0]->received().find(": keepalive"), std::string::npos);
  // A watcher that leaves frees its place.
  watchers.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  RawClient again(port());
  again.send(events_request(job));
  again.read(2000, "\r\n\r\n");
  EXPECT_EQ(again.status(), 200) << again.received();
}

TEST_F(HttpLimitsTest, StreamsOfATenantAreCappedByItsQuota) {
  core_->api_store.create_tenant("acme", Record{{{"state", "active"}, {"quota_streams", "2"}}});
  start();
  const std::string job = running_job();
  // Two tokens of the tenant, one stream each: the tenant's quota is full.
  std::vector<std::unique_ptr<RawClient>> watchers;
  for (int i = 0; i < 2; ++i) {
    const std::string token = core_->auth.create_api_token("acme", Role::viewer, 3600).token;
    watchers.push_back(std::make_unique<RawClient>(port()));
    watchers.back()->send(events_request(job, "", token));
    watchers.back()->read(2000, "\r\n\r\n");
    EXPECT_EQ(watchers.back()->status(), 200) << watchers.back()->received();
  }
  auto over = request(events_request(job));
  EXPECT_EQ(over->status(), 429) << over->received();
  EXPECT_EQ(error_code(over->body()), "too_many_streams");
  EXPECT_NE(over->received().find("Retry-After: 5\r\n"), std::string::npos) << over->received();
  watchers.pop_back();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto again = std::make_unique<RawClient>(port());
  again->send(events_request(job));
  again->read(2000, "\r\n\r\n");
  EXPECT_EQ(again->status(), 200) << again->received();
}

TEST_F(HttpLimitsTest, RequestsOverTheAddressRateAre429WithRetryAfter) {
  config_.api_limits.rate_per_address = 5;
  config_.api_limits.rate_per_token = 0;
  config_.api_limits.rate_exempt = {"127.0.0.1"};
  start();
  int passed = 0;
  std::string refused;
  const auto started = Clock::now();
  for (int i = 0; i < 20; ++i) {
    RawClient c(port(), "127.0.0.4");
    c.send("GET /healthz HTTP/1.1\r\n\r\n");
    c.read_answer(2000);
    if (c.status() == 200) ++passed;
    if (c.status() == 429) refused = c.received();
  }
  // The burst (twice the rate), and what refilled meanwhile.
  EXPECT_GE(passed, 10);
  EXPECT_LE(passed, 11 + static_cast<int>(5 * seconds_since(started)));
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused;
  EXPECT_EQ(error_code(refused), "rate_limited");
  for (int i = 0; i < 30; ++i) {  // the exempt address is never limited
    EXPECT_EQ(request("GET /healthz HTTP/1.1\r\n\r\n")->status(), 200);
  }
}

TEST_F(HttpLimitsTest, RequestsOverTheTokenRateAre429WithRetryAfter) {
  config_.api_limits.rate_per_address = 0;
  config_.api_limits.rate_per_token = 5;
  config_.api_limits.rate_exempt = {};
  start();
  int passed = 0;
  std::string refused;
  const auto started = Clock::now();
  for (int i = 0; i < 20; ++i) {
    auto c = request("GET /api/v1/jobs HTTP/1.1\r\n" + bearer() + "\r\n");
    if (c->status() == 200) ++passed;
    if (c->status() == 429) refused = c->received();
  }
  EXPECT_GE(passed, 10);
  EXPECT_LE(passed, 11 + static_cast<int>(5 * seconds_since(started)));
  EXPECT_NE(refused.find("Retry-After: 1\r\n"), std::string::npos) << refused;
  EXPECT_EQ(error_code(refused), "rate_limited");
  // Another token has its own rate.
  const std::string other = core_->auth.create_api_token("acme", Role::viewer, 3600).token;
  EXPECT_EQ(request("GET /api/v1/jobs HTTP/1.1\r\nAuthorization: Bearer " + other + "\r\n\r\n")->status(), 200);
}

}  // namespace
}  // namespace muster::hub
