#include "muster/proto/json.hpp"

#include <gtest/gtest.h>

using namespace muster::proto;

TEST(ParseObject, RefusesNonObject) {
  auto r = parse_object("[1,2]");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::bad_json);
}
