#include "muster/proto/messages.hpp"

#include <gtest/gtest.h>

using namespace muster::proto;

TEST(TaskCodec, RoundTrip) {
  Task t;
  t.task_id = "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b";
  t.job_id = "1b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b";
  t.command = "uname -a";
  t.timeout_s = 60;
  auto back = decode_task(encode(t));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back->command, "uname -a");
  EXPECT_EQ(back->timeout_s, 60);
}
