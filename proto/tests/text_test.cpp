#include "muster/proto/text.hpp"

#include <gtest/gtest.h>

using namespace muster::proto;

TEST(XmlSafeUtf8, ReplacesInvalidBytes) {
  EXPECT_EQ(to_xml_safe_utf8("a\xff" "b"), "a\xEF\xBF\xBD" "b");
}
