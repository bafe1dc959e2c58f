// The job watch against a real redis-server (started here on a free loopback
// port): a task left in any state without the record that watches it
// (queue entry, waiting list, parking, in-flight record) is put back where
// something looks at it, or ended, by the job's deadline at the latest.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "core/auth.hpp"
#include "core/tasks.hpp"
#include "master/job_watch.hpp"
#include "muster/proto/uuid.hpp"
#include "redis_server.hpp"
#include "store/keys.hpp"
#include "store/redis_shard_store.hpp"
#include "store/task_scripts.hpp"
#include "store/store.hpp"

namespace muster::hub {
namespace {

constexpr double kAckWait = 15;
constexpr double kGrace = 60;
constexpr const char* kShard = "shard-a.example";

class JobWatchTest : public testing::RedisSuite {
 protected:
  void SetUp() override {
    store_ = server_->fresh_store();
    shard_store_ = std::make_unique<RedisShardStore>(*store_, kShard);
  }

  // A running job whose tasks are in `states`, with nothing else written: no
  // queue entries, waiting list, parking or in-flight records. It last moved
  // `idle_s` ago; its deadline is `deadline_in_s` from now.
  std::string make_job(const std::vector<std::string>& states, int concurrency = 0, double idle_s = 60,
                       double deadline_in_s = 600, std::vector<std::string> extra = {}) {
    const std::string job_id = proto::new_uuid();
    const double now = unix_time();
    Command job{"HSET", keys::job(job_id), "state", "running", "created_at", format_time(now - idle_s),
                "deadline", format_time(now + deadline_in_s), "timeout_s", "30",
                "concurrency", std::to_string(concurrency), "total", std::to_string(states.size()),
                "remaining", "0"};
    job.insert(job.end(), extra.begin(), extra.end());
    store_->run(job);
    long remaining = 0;
    for (const auto& state : states) {
      const std::string agent = proto::new_uuid();
      agents_.push_back(agent);
      store_->run({"HSET", keys::task(job_id, agent), "state", state, "agent_id", agent, "shard", kShard,
                   "task_id", proto::new_uuid()});
      store_->run({"RPUSH", keys::job_tasks(job_id), agent});
      store_->run({"HINCRBY", keys::job(job_id), "n_" + state, "1"});
      if (!is_final_state(state)) ++remaining;
    }
    store_->run({"HSET", keys::job(job_id), "remaining", std::to_string(remaining)});
    store_->run({"ZADD", keys::kRunningJobs, format_time(now - 1), job_id});
    return job_id;
  }

  std::string task_state(const std::string& job_id, std::size_t i) {
    return store_->run({"HGET", keys::task(job_id, agents_[i]), "state"}).text;
  }
  std::string job_field(const std::string& job_id, const char* field) {
    return store_->run({"HGET", keys::job(job_id), field}).text;
  }
  long queued() { return static_cast<long>(store_->run({"XLEN", keys::dispatch_queue(kShard)}).integer); }
  std::optional<double> inflight_due(const std::string& job_id, std::size_t i) {
    const Reply r = store_->run({"ZSCORE", keys::inflight(kShard), job_id + "|" + agents_[i]});
    if (r.is_nil()) return std::nullopt;
    return std::stod(r.text);
  }
  bool watched(const std::string& job_id) {
    return !store_->run({"ZSCORE", keys::kRunningJobs, job_id}).is_nil();
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<RedisShardStore> shard_store_;
  std::vector<std::string> agents_;
};


TEST_F(JobWatchTest, PendingTaskThatLostItsQueueEntryIsQueuedAgain) {
  const auto job = make_job({"pending"});
  JobWatch watch(*shard_store_, kAckWait, kGrace);
  EXPECT_EQ(watch.run(false), 1u);
  EXPECT_EQ(queued(), 1);
  EXPECT_EQ(task_state(job, 0), "pending");  // the claim, not the watch, dispatches it
  EXPECT_TRUE(watched(job));
}

TEST_F(JobWatchTest, PendingTaskThatLostItsSlotReleaseIsQueuedAgain) {
  // The slot's holder ended, but the follow-up that hands the slot to the
  // waiting task was lost (its queue entry and the waiting list with it).
  const auto job = make_job({"succeeded", "pending", "pending"}, 1);
  JobWatch watch(*shard_store_, kAckWait, kGrace);
  watch.run(false);
  EXPECT_EQ(queued(), 2);  // both: each claim sends one or puts it on a fresh waiting list
  EXPECT_EQ(store_->run({"LLEN", keys::job_slot_queue(job)}).integer, 0);
}

TEST_F(JobWatchTest, PendingTasksWaitWhileEverySlotIsBusy) {
  const auto job = make_job({"running", "pending"}, 1);
  JobWatch watch(*shard_store_, kAckWait, kGrace);
  watch.run(false);
  EXPECT_EQ(queued(), 0);  // the slot is busy: the running task's end frees it
  ASSERT_TRUE(inflight_due(job, 0));
  // The running task ends, and the waiting list that should hand its slot on
  // is gone: the next look queues the pending task.
  const auto outcome = transition_task(*store_, job, agents_[0], "succeeded", {"running"});
  EXPECT_FALSE(outcome.release_agent);
  watch.run(true);
  EXPECT_EQ(queued(), 1);
}

TEST_F(JobWatchTest, DispatchedTaskWithoutInFlightRecordIsWatchedAgain) {
  const auto job = make_job({"dispatched"});
  JobWatch watch(*shard_store_, kAckWait, kGrace);
  const double before = unix_time();
  watch.run(false);
  const auto due = inflight_due(job, 0);
  ASSERT_TRUE(due);
  EXPECT_NEAR(*due, before + kAckWait, 2);
  EXPECT_EQ(queued(), 0);
}

TEST_F(JobWatchTest, RunningTaskWithoutInFlightRecordGetsItsTimeoutAndGrace) {
  const auto job = make_job({"running"});
  JobWatch watch(*shard_store_, kAckWait, kGrace);
  const double before = unix_time();
  watch.run(false);
  const auto due = inflight_due(job, 0);
  ASSERT_TRUE(due);
  EXPECT_NEAR(*due, before + 30 + kGrace, 2);
}

TEST_F(JobWatchTest, AnExistingInFlightRecordKeepsItsDueTime) {
  const auto job = make_job({"running"});
  store_->run({"ZADD", keys::inflight(kShard), "12345", job + "|" + agents_[0]});
  JobWatch(*shard_store_, kAckWait, kGrace).run(true);
  EXPECT_EQ(*inflight_due(job, 0), 12345);
}

TEST_F(JobWatchTest, PendingTaskPastTheDeadlineExpiresAndTheJobEnds) {
  const auto job = make_job({"succeeded", "pending"}, 0, 60, -1);
  JobWatch(*shard_store_, kAckWait, kGrace).run(false);
  EXPECT_EQ(task_state(job, 1), "expired");
  EXPECT_EQ(job_field(job, "state"), "failed");
  EXPECT_EQ(job_field(job, "n_expired"), "1");
  EXPECT_FALSE(watched(job));
  EXPECT_GT(store_->run({"TTL", keys::job(job)}).integer, 0);  // kept for its retention, then gone
}

TEST_F(JobWatchTest, CancelledOrHaltedJobEndsItsPendingTasks) {
  const auto cancelled = make_job({"pending"}, 0, 60, 600, {"cancel_requested", "1"});
  const auto halted = make_job({"failed", "pending"}, 0, 60, 600, {"halted", "1"});
  JobWatch(*shard_store_, kAckWait, kGrace).run(false);
  EXPECT_EQ(task_state(cancelled, 0), "cancelled");
  EXPECT_EQ(job_field(cancelled, "state"), "cancelled");
  EXPECT_EQ(task_state(halted, 2), "skipped");
  EXPECT_EQ(job_field(halted, "state"), "failed");
  EXPECT_EQ(queued(), 0);
}

TEST_F(JobWatchTest, JobWhoseEveryTaskEndedButWhoseEndWasLostEnds) {
  const auto job = make_job({"succeeded", "succeeded"});
  store_->run({"HSET", keys::job(job), "remaining", "1", "n_succeeded", "1"});  // the last change half kept
  JobWatch(*shard_store_, kAckWait, kGrace).run(false);
  EXPECT_EQ(job_field(job, "state"), "succeeded");
  EXPECT_EQ(job_field(job, "n_succeeded"), "2");
  EXPECT_EQ(job_field(job, "remaining"), "0");
  EXPECT_FALSE(watched(job));
}

TEST_F(JobWatchTest, AJobThatMovedRecentlyIsLeftAloneUntilItStalls) {
  const auto job = make_job({"pending"}, 0, /*idle_s=*/1);
  JobWatch watch(*shard_store_, kAckWait, kGrace);
  EXPECT_EQ(watch.run(false), 0u);
  EXPECT_EQ(queued(), 0);
  const double next = std::stod(store_->run({"ZSCORE", keys::kRunningJobs, job}).text);
  EXPECT_NEAR(next, unix_time() - 1 + kJobWatchStallSeconds, 2);
  // After a store outage every job is looked at at once.
  EXPECT_EQ(watch.run(true), 1u);
  EXPECT_EQ(queued(), 1);
}

TEST_F(JobWatchTest, AJobThatNeverMovesIsLookedAtLessOftenButAtItsDeadline) {
  const auto job = make_job({"pending"}, 0, 60, 25);
  JobWatch watch(*shard_store_, kAckWait, kGrace);
  watch.run(false);
  const double first = std::stod(job_field(job, "watch_interval"));
  // Looked at 30 s ago, after its last move 60 s ago: nothing moved since.
  store_->run({"HSET", keys::job(job), "watched_at", format_time(unix_time() - 30)});
  store_->run({"ZADD", keys::kRunningJobs, format_time(unix_time() - 1), job});
  watch.run(false);  // nothing moved since the last look: twice the interval
  EXPECT_EQ(std::stod(job_field(job, "watch_interval")), 2 * first);
  const double next = std::stod(store_->run({"ZSCORE", keys::kRunningJobs, job}).text);
  EXPECT_LE(next, std::stod(job_field(job, "deadline")) + 0.01);  // never past its deadline
}

TEST_F(JobWatchTest, AJobWhoseRecordsAreGoneIsForgotten) {
  const std::string job = proto::new_uuid();
  store_->run({"ZADD", keys::kRunningJobs, "1", job});
  JobWatch(*shard_store_, kAckWait, kGrace).run(false);
  EXPECT_FALSE(watched(job));
}

TEST_F(JobWatchTest, CountersAreRecountedFromTheTasks) {
  const auto job = make_job({"running", "pending", "succeeded"});
  store_->run({"HSET", keys::job(job), "n_running", "0", "n_pending", "3", "remaining", "7"});
  JobWatch(*shard_store_, kAckWait, kGrace).run(false);
  EXPECT_EQ(job_field(job, "n_running"), "1");
  EXPECT_EQ(job_field(job, "n_pending"), "1");
  EXPECT_EQ(job_field(job, "remaining"), "2");
}

TEST_F(JobWatchTest, ATaskListedTwiceCountsOnce) {
  const auto job = make_job({"succeeded", "pending"});
  store_->run({"RPUSH", keys::job_tasks(job), agents_[0], agents_[1]});  // the job's writes, retried
  JobWatch(*shard_store_, kAckWait, kGrace).run(false);
  EXPECT_EQ(job_field(job, "total"), "2");
  EXPECT_EQ(job_field(job, "n_succeeded"), "1");
  EXPECT_EQ(job_field(job, "n_pending"), "1");
  EXPECT_EQ(queued(), 1);
}

}  // namespace
}  // namespace muster::hub
