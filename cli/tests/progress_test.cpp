#include "progress.hpp"

#include <gtest/gtest.h>

namespace muster::cli {
namespace {

TEST(JobTally, CountsEachTaskOnceWhateverRepeats) {
  JobTally t(3);
  EXPECT_FALSE(t.record("a", "dispatched"));
  EXPECT_FALSE(t.record("a", "running"));
  EXPECT_EQ(t.running(), 1u);
  EXPECT_TRUE(t.record("a", "succeeded"));
  EXPECT_FALSE(t.record("a", "succeeded"));  // replayed after a reconnect
  EXPECT_FALSE(t.record("a", "running"));    // a final state never changes
  EXPECT_TRUE(t.record("b", "timed_out"));
  EXPECT_EQ(t.done(), 2u);
  EXPECT_EQ(t.succeeded(), 1u);
  EXPECT_EQ(t.unsuccessful(), 1u);
  EXPECT_EQ(t.running(), 0u);
  EXPECT_EQ(t.count("pending"), 0u);
}

TEST(FormatDuration, ReadsLikeAPerson) {
  EXPECT_EQ(format_duration(0.24), "0.2s");
  EXPECT_EQ(format_duration(9.94), "9.9s");
  EXPECT_EQ(format_duration(45), "45s");
  EXPECT_EQ(format_duration(125), "2m05s");
  EXPECT_EQ(format_duration(3725), "1h02m");
  EXPECT_EQ(format_duration(-3), "0.0s");
}

TEST(FormatProgress, ShowsCountsThenRateAndEtaOnceATaskIsDone) {
  JobTally t(100);
  EXPECT_EQ(format_progress(t, 1.0, 0), "0/100 done  0 ok  0 failed  0 running  1.0s");
  for (int i = 0; i < 10; ++i) t.record("ok" + std::to_string(i), "succeeded");
  t.record("bad", "failed");
  t.record("busy", "running");
  t.record("sent", "dispatched");
  // 11 done in 5.5 s: 2.0/s, 89 left: 44.5 s, shown rounded.
  EXPECT_EQ(format_progress(t, 5.5, 0), "11/100 done  10 ok  1 failed  2 running  2.0/s  ETA 45s  5.5s");
}

TEST(FormatProgress, NoEtaWhenAllAreDoneAndCutToTheWidth) {
  JobTally t(1);
  t.record("a", "succeeded");
  EXPECT_EQ(format_progress(t, 20, 0), "1/1 done  1 ok  0 failed  0 running  0.1/s  20s");
  EXPECT_EQ(format_progress(t, 20, 12), "1/1 done  1 ");
}

TEST(FormatSummary, NamesTheFinalStatesThatHaveTasks) {
  EXPECT_EQ(format_summary({{"succeeded", 2}, {"failed", 1}, {"running", 0}}, 3, 1.234),
            "3 tasks: 2 succeeded, 1 failed in 1.2s");
  EXPECT_EQ(format_summary({{"cancelled", 1}}, 4, 70), "4 tasks: 1 cancelled, 3 not finished in 1m10s");
  EXPECT_EQ(format_summary({{"succeeded", 1}}, 1, 0.5), "1 task: 1 succeeded in 0.5s");
}

}  // namespace
}  // namespace muster::cli
