// The API's route table: which route a request reaches, with what access,
// and the errors for a path or method it does not know.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/routes.hpp"
#include "core/errors.hpp"

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
    if (std::string(route.pattern).rfind("/api/v1/", 0) == 0 && std::string(route.pattern) != "/api/v1/enroll") {
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

}  // namespace
}  // namespace muster::hub
