// The API's route table: which route a request reaches, with what access,
// and the errors for a path or method it does not know.
#include <gtest/gtest.h>

#include <cctype>
#include <set>
#include <string>
#include <vector>

#include "api/openapi_json.hpp"
#include "api/routes.hpp"
#include "core/errors.hpp"
#include "muster/proto/json.hpp"

namespace muster::hub {
namespace {

const Route& route_of(const std::string& method, const std::string& uri, std::vector<std::string>& params) {
  return match_route(method, uri, params);
}

TEST(Routes, PatternsBindTheirParameters) {
  std::vector<std::string> params;
  const Route& r = route_of("GET", "/api/v1/jobs/abc/tasks?limit=5", params);
  EXPECT_STREQ(r.pattern, "/api/v1/jobs/:id/tasks");
  EXPECT_EQ(r.access, Access::viewer);
  EXPECT_EQ(params, std::vector<std::string>{"abc"});
  EXPECT_STREQ(route_of("POST", "/api/v1/jobs/abc/cancel", params).pattern, "/api/v1/jobs/:id/cancel");
  EXPECT_STREQ(route_of("GET", "//api//v1/agents/", params).pattern, "/api/v1/agents");
}

TEST(Routes, EachRouteSaysWhoMayCallIt) {
  std::vector<std::string> params;
  EXPECT_EQ(route_of("GET", "/healthz", params).access, Access::open);
  EXPECT_EQ(route_of("POST", "/api/v1/enroll", params).access, Access::any_token);
  EXPECT_EQ(route_of("POST", "/api/v1/jobs", params).access, Access::operator_);
  EXPECT_EQ(route_of("DELETE", "/api/v1/agents/x", params).access, Access::admin);
  EXPECT_EQ(route_of("POST", "/api/v1/tokens", params).access, Access::admin);
  for (const auto& route : api_routes()) {
    // The API's own description is public, like any published reference.
    const std::string pattern = route.pattern;
    if (pattern.rfind("/api/v1/", 0) == 0 && pattern != "/api/v1/enroll" && pattern != "/api/v1/openapi.json") {
      EXPECT_NE(route.access, Access::open) << route.pattern << " must need a token";
    }
  }
}

TEST(Routes, UnknownPathIs404AndWrongMethodIs405) {
  std::vector<std::string> params;
  try {
    route_of("GET", "/api/v1/nothing", params);
    FAIL() << "no route expected";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 404);
    EXPECT_EQ(e.code, "not_found");
  }
  try {
    route_of("PUT", "/api/v1/jobs", params);
    FAIL() << "405 expected";
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 405);
    EXPECT_EQ(std::string(e.what()), "/api/v1/jobs accepts POST, GET only");
  }
  try {
    route_of("GET", "/api/v1/jobs/x/" + std::string(5000, 'a'), params);
    FAIL();
  } catch (const ApiError& e) {
    EXPECT_EQ(e.status, 404);
    EXPECT_LT(std::string(e.what()).size(), 300u) << "the message does not echo a huge path";
  }
}

// "GET /api/v1/jobs/:id" for each operation of docs/openapi.yaml ("{id}" as ":id").
std::set<std::string> documented_operations() {
  auto doc = proto::parse_object(kOpenApiJson);
  EXPECT_TRUE(doc.ok());
  std::set<std::string> out;
  const cJSON* paths = cJSON_GetObjectItemCaseSensitive(doc->get(), "paths");
  for (const cJSON* path = paths != nullptr ? paths->child : nullptr; path != nullptr; path = path->next) {
    std::string pattern = path->string;
    for (std::size_t open; (open = pattern.find('{')) != std::string::npos;) {
      const std::size_t close = pattern.find('}', open);
      pattern = pattern.substr(0, open) + ":" + pattern.substr(open + 1, close - open - 1) + pattern.substr(close + 1);
    }
    for (const cJSON* op = path->child; op != nullptr; op = op->next) {
      std::string method = op->string;
      if (method == "parameters") continue;
      for (auto& ch : method) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      out.insert(method + " " + pattern);
    }
  }
  return out;
}

TEST(Routes, TheRouteTableAndTheOpenApiDocumentAgree) {
  std::set<std::string> routed;
  for (const auto& r : api_routes()) routed.insert(std::string(r.method) + " " + r.pattern);
  const auto documented = documented_operations();
  for (const auto& op : routed) EXPECT_EQ(documented.count(op), 1u) << op << " is routed but not in docs/openapi.yaml";
  for (const auto& op : documented) EXPECT_EQ(routed.count(op), 1u) << op << " is in docs/openapi.yaml but not routed";
}

}  // namespace
}  // namespace muster::hub
