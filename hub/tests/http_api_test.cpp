// The api's HTTP layer on a real server socket (port 0, plain HTTP) against a
// private redis-server: every answer is JSON, access comes from the route
// table before anything is read, and writes are audited.
#include <gtest/gtest.h>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

#include <cstdlib>
#include <memory>
#include <sstream>
#include <string>

#include "api/http_api.hpp"
#include "api/http_io.hpp"
#include "api_core.hpp"
#include "muster/proto/json.hpp"
#include "redis_server.hpp"
#include "store/redis_api_store.hpp"

namespace muster::hub {
namespace {

struct Answer {
  int status = 0;
  std::string content_type;
  std::string body;
};

class HttpApiTest : public testing::RedisSuite {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/muster-hub-api-XXXXXX";
    key_dir_ = ::mkdtemp(dir);
    config_.api_host = "127.0.0.1";
    config_.api_port = 0;
    config_.api_threads = 4;
    config_.signing_key = key_dir_ + "/signing-key.pem";
    RegionConfig region;
    region.name = "default";
    region.xmpp_domain = "d.example";
    region.xmpp_ca_file = "/dev/null";
    region.shards = {"s0.d.example"};
    config_.regions = {region};
    core_ = std::make_unique<testing::ApiCore>(server_->fresh_store(8), config_);
    api_ = std::make_unique<HttpApi>(core_->services);
    api_->start();
    admin_ = core_->auth.create_api_token("acme", Role::admin, 3600).token;
    viewer_ = core_->auth.create_api_token("acme", Role::viewer, 3600).token;
  }

  void TearDown() override {
    api_->stop();
    std::system(("rm -rf " + key_dir_).c_str());
  }

  Answer call(const std::string& method, const std::string& path, const std::string& token = "",
              const std::string& body = "") {
    Poco::Net::HTTPClientSession session("127.0.0.1", api_->port());
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    if (!token.empty()) request.set("Authorization", "Bearer " + token);
    if (!body.empty() || method == "POST") request.setContentLength(static_cast<std::streamsize>(body.size()));
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Answer a;
    a.status = response.getStatus();
    a.content_type = response.getContentType();
    Poco::StreamCopier::copyToString(in, a.body);
    return a;
  }

  static std::string error_code(const Answer& a) {
    auto root = proto::parse_object(a.body);
    if (!root) return "(not JSON: " + a.body + ")";
    const cJSON* error = cJSON_GetObjectItemCaseSensitive(root->get(), "error");
    const cJSON* code = error != nullptr ? cJSON_GetObjectItemCaseSensitive(error, "code") : nullptr;
    return cJSON_IsString(code) ? code->valuestring : "(no error.code)";
  }

  std::string key_dir_;
  HubConfig config_;
  std::unique_ptr<testing::ApiCore> core_;
  std::unique_ptr<HttpApi> api_;
  std::string admin_, viewer_;
};


TEST_F(HttpApiTest, HealthzIsOpen) {
  const Answer a = call("GET", "/healthz");
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(a.content_type, "application/json");
  EXPECT_NE(a.body.find("\"status\":\"ok\""), std::string::npos) << a.body;
}

TEST_F(HttpApiTest, EveryRefusalIsJsonWithItsCode) {
  EXPECT_EQ(error_code(call("GET", "/api/v1/jobs")), "unauthorized");
  EXPECT_EQ(error_code(call("GET", "/api/v1/jobs", "not-a-token")), "unauthorized");
  EXPECT_EQ(error_code(call("GET", "/api/v1/nothing", admin_)), "not_found");
  const Answer wrong_method = call("PUT", "/api/v1/jobs", admin_);
  EXPECT_EQ(wrong_method.status, 405);
  EXPECT_EQ(error_code(wrong_method), "method_not_allowed");
  const Answer bad_json = call("POST", "/api/v1/jobs", admin_, "{not json");
  EXPECT_EQ(bad_json.status, 400);
  EXPECT_EQ(error_code(bad_json), "bad_json");
  const Answer no_agents = call("POST", "/api/v1/jobs", admin_, R"({"command": "true", "targets": {"all": true}})");
  EXPECT_EQ(no_agents.status, 400);
  EXPECT_EQ(error_code(no_agents), "no_targets");
}

TEST_F(HttpApiTest, TheRouteTableDecidesAccessBeforeTheBodyIsRead) {
  const Answer a = call("POST", "/api/v1/jobs", viewer_, R"({"command": "true", "targets": {"all": true}})");
  EXPECT_EQ(a.status, 403);
  EXPECT_EQ(error_code(a), "forbidden");
  EXPECT_NE(a.body.find("operator"), std::string::npos) << a.body;
  EXPECT_EQ(call("GET", "/api/v1/tokens", viewer_).status, 403);
  EXPECT_EQ(call("GET", "/api/v1/jobs", viewer_).status, 200);
}

TEST_F(HttpApiTest, AnOversizedBodyIs413) {
  const Answer a = call("POST", "/api/v1/jobs", admin_, std::string(kMaxRequestBody + 1, 'x'));
  EXPECT_EQ(a.status, 413);
  EXPECT_EQ(error_code(a), "too_large");
}

TEST_F(HttpApiTest, WritesAreAuditedRefusedOrNot) {
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, R"({"kind": "api", "role": "viewer"})").status, 201);
  EXPECT_EQ(call("POST", "/api/v1/tokens", admin_, R"({"kind": "root"})").status, 400);
  EXPECT_EQ(call("POST", "/api/v1/jobs", viewer_, "{}").status, 403);
  const Answer audit = call("GET", "/api/v1/audit", admin_);
  ASSERT_EQ(audit.status, 200);
  auto root = proto::parse_object(audit.body);
  ASSERT_TRUE(root.ok()) << audit.body;
  const cJSON* entries = cJSON_GetObjectItemCaseSensitive(root->get(), "entries");
  ASSERT_EQ(cJSON_GetArraySize(entries), 3) << audit.body;
  EXPECT_NE(audit.body.find("\"status\":403"), std::string::npos);
  EXPECT_NE(audit.body.find("\"status\":400"), std::string::npos);
  EXPECT_NE(audit.body.find("\"status\":201"), std::string::npos);
}

}  // namespace
}  // namespace muster::hub
