#include "muster/proto/uuid.hpp"

#include <gtest/gtest.h>

using namespace muster::proto;

TEST(Uuid, NewIsCanonical) {
  EXPECT_TRUE(is_uuid(new_uuid()));
  EXPECT_NE(new_uuid(), new_uuid());
}
