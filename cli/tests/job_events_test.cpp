#include "job_events.hpp"

#include <gtest/gtest.h>

namespace muster::cli {
namespace {

TEST(DecodeJobEvent, ReadsTheThreeDocumentedEvents) {
  JobEvent e;
  ASSERT_TRUE(decode_job_event({"1-0", "state", R"({"agent_id":"a","state":"running"})"}, e));
  EXPECT_EQ(e.kind, JobEvent::Kind::state);
  EXPECT_EQ(e.agent_id, "a");
  EXPECT_EQ(e.state, "running");

  ASSERT_TRUE(decode_job_event({"1-1", "output", R"({"agent_id":"a","stream":"stderr","seq":3,"data":"x\n"})"}, e));
  EXPECT_EQ(e.kind, JobEvent::Kind::output);
  EXPECT_EQ(e.stream, "stderr");
  EXPECT_EQ(e.seq, 3);
  EXPECT_EQ(e.data, "x\n");

  ASSERT_TRUE(decode_job_event({"1-2", "job", R"({"job_id":"j","state":"cancelled"})"}, e));
  EXPECT_EQ(e.kind, JobEvent::Kind::job);
  EXPECT_EQ(e.state, "cancelled");
}

TEST(DecodeJobEvent, UnknownTypesPassAndBadShapesDoNot) {
  JobEvent e;
  ASSERT_TRUE(decode_job_event({"1-0", "progress", R"({"any":"thing"})"}, e));
  EXPECT_EQ(e.kind, JobEvent::Kind::other);
  EXPECT_FALSE(decode_job_event({"1-0", "state", "not json"}, e));
  EXPECT_FALSE(decode_job_event({"1-0", "state", R"({"agent_id":"a"})"}, e));
  EXPECT_FALSE(decode_job_event({"1-0", "output", R"({"agent_id":"a","stream":"stdout","seq":-1,"data":""})"}, e));
}

}  // namespace
}  // namespace muster::cli
