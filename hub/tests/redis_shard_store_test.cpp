// The shard store's verbs on a real redis-server (started here on a free
// loopback port), set up the way the api writes them: what the master's
// parts rely on when they run against MemoryShardStore holds here too.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "core/auth.hpp"
#include "muster/proto/uuid.hpp"
#include "redis_server.hpp"
#include "store/keys.hpp"
#include "store/redis_api_store.hpp"
#include "store/redis_leases.hpp"
#include "store/redis_shard_store.hpp"

namespace muster::hub {
namespace {

constexpr const char* kShard = "s0.d.example";

class RedisShardStoreTest : public testing::RedisSuite {
 protected:
  void SetUp() override {
    store_ = server_->fresh_store();
    api_ = std::make_unique<RedisApiStore>(*store_);
    shard_ = std::make_unique<RedisShardStore>(*store_, kShard);
  }

  std::string agent(bool online) {
    const std::string id = proto::new_uuid();
    api_->put_agent(id, "acme", Record{{{"tenant", "acme"}, {"shard", kShard}, {"status", "offline"}}}, {});
    if (online) shard_->record_presence(id, true, nullptr);
    return id;
  }
  // A job as the api writes it: record, tasks, queue entries.
  NewJob job(const std::vector<std::string>& agents, double deadline = 0, int concurrency = 0) {
    NewJob j;
    j.id = proto::new_uuid();
    j.tenant = "acme";
    j.created_at = j.watch_at = unix_time();
    j.record.fields = {{"tenant", "acme"},      {"state", "running"},   {"statement", "st"}, {"signature", "sig"},
                       {"key_id", "k1"},        {"timeout_s", "42"},    {"total", std::to_string(agents.size())},
                       {"remaining", std::to_string(agents.size())}, {"n_pending", std::to_string(agents.size())},
                       {"concurrency", std::to_string(concurrency)}, {"deadline", format_time(deadline)}};
    for (const auto& a : agents) j.tasks.push_back({a, proto::new_uuid(), kShard, "proof-" + a});
    api_->write_job(j);
    return j;
  }

  // Everything the feed holds now, acknowledged: the first read after opening
  // is of the consumer's own unacknowledged entries, the next of new ones.
  static std::vector<TaskKey> drain(DispatchFeed& feed) {
    std::vector<TaskKey> tasks;
    for (int i = 0; i < 2; ++i) {
      for (const auto& d : feed.read(10)) {
        tasks.insert(tasks.end(), d.tasks.begin(), d.tasks.end());
        feed.acknowledge(d);
      }
    }
    return tasks;
  }

  std::unique_ptr<Store> store_;
  std::unique_ptr<RedisApiStore> api_;
  std::unique_ptr<ShardStore> shard_;
};


TEST_F(RedisShardStoreTest, TheFeedDeliversQueuedTasksOnceAcknowledged) {
  const std::string a = agent(true), b = agent(false);
  const NewJob j = job({a, b});
  auto feed = shard_->open_dispatch_feed("test-consumer");
  EXPECT_FALSE(feed->holds_lease("nobody"));
  const auto token = RedisLeases(*store_).acquire(kShard, "h1", 5000);
  ASSERT_TRUE(token);
  EXPECT_TRUE(feed->holds_lease(*token));

  const auto read = drain(*feed);
  ASSERT_EQ(read.size(), 2u);
  EXPECT_EQ(read[0].job_id, j.id);
  EXPECT_TRUE(drain(*feed).empty());
  // A new holder of the shard adopts what was read and never acknowledged.
  job({a});
  for (int i = 0; i < 2; ++i) feed->read(10);  // read, not acknowledged
  EXPECT_EQ(drain(*shard_->open_dispatch_feed("successor")).size(), 1u);
  EXPECT_EQ(shard_->agents_online({a, b}), (std::vector<bool>{true, false}));
}

TEST_F(RedisShardStoreTest, AClaimedTaskMovesThroughItsStatesAndEndsTheJob) {
  const std::string a = agent(true);
  const NewJob j = job({a});
  const TaskKey task{j.id, a};
  const auto claims = shard_->claim_for_dispatch({task});
  ASSERT_EQ(claims[0].claim, Claim::send);
  EXPECT_EQ(claims[0].task_id, j.tasks[0].task_id);
  EXPECT_EQ(claims[0].proof, "proof-" + a);
  const auto signed_jobs = shard_->signed_jobs({j.id}, {{task, unix_time() + 15}});
  EXPECT_EQ(signed_jobs.at(j.id).statement, "st");
  EXPECT_EQ(shard_->in_flight_all().size(), 1u);

  const auto checks = shard_->check_reports({a}, {task});
  EXPECT_TRUE(checks.revoked_agents.empty());
  EXPECT_EQ(checks.sent_task_ids, std::vector<std::string>{j.tasks[0].task_id});
  EXPECT_EQ(shard_->transition({{j.id, a, "running", {"dispatched"}, {}}})[0].moved, true);
  EXPECT_EQ(shard_->job_timeouts({j.id}).at(j.id), 42);
  EXPECT_FALSE(shard_->append_output(a, {proto::new_uuid(), j.id, proto::Stream::stdout_stream, 1, "x"}));
  EXPECT_TRUE(shard_->append_output(a, {j.tasks[0].task_id, j.id, proto::Stream::stdout_stream, 1, "x"}));

  const auto done = shard_->transition({{j.id, a, "succeeded", {"running"}, {"exit_code", "0"}}}, {task});
  ASSERT_TRUE(done[0].moved);
  EXPECT_TRUE(done[0].job_finished);
  EXPECT_TRUE(shard_->in_flight_all().empty());
  shard_->follow_up(j.id, done[0]);
  EXPECT_EQ(api_->job(j.id).field("state"), "succeeded");
  EXPECT_EQ(shard_->sent_tasks({task})[0].state, "succeeded");
  // A repeated result finds the task final: nothing moves.
  EXPECT_FALSE(shard_->transition({{j.id, a, "failed", {"running"}, {}}})[0].moved);
}

TEST_F(RedisShardStoreTest, ParkedTasksWaitForTheirAgentOrExpire) {
  const std::string a = agent(false), b = agent(false);
  const NewJob j = job({a, b}, unix_time() + 1);
  auto feed = shard_->open_dispatch_feed("c");
  drain(*feed);
  EXPECT_FALSE(shard_->park({j.id, a}));
  EXPECT_FALSE(shard_->park({j.id, b}));
  EXPECT_TRUE(shard_->parked_overdue(unix_time(), 10).empty());
  EXPECT_EQ(shard_->parked_overdue(unix_time() + 2, 10).size(), 2u);

  shard_->record_presence(a, true, nullptr);
  shard_->release_parked(a);
  const auto released = drain(*feed);
  ASSERT_EQ(released.size(), 1u);
  EXPECT_EQ(released[0].agent_id, a);
  shard_->unpark({j.id, b});
  EXPECT_TRUE(shard_->parked_overdue(unix_time() + 2, 10).empty());
}

TEST_F(RedisShardStoreTest, InFlightWritesKeepOrMoveTheDueTimeAsAsked) {
  const TaskKey t{proto::new_uuid(), proto::new_uuid()}, u{proto::new_uuid(), proto::new_uuid()};
  shard_->watch_in_flight({{t, 100}}, InFlightWrite::set);
  shard_->watch_in_flight({{t, 500}, {u, 200}}, InFlightWrite::keep_if_present);
  EXPECT_EQ(shard_->in_flight_due(150, 10), std::vector<TaskKey>{t});
  shard_->watch_in_flight({{t, 300}}, InFlightWrite::move_if_present);
  shard_->watch_in_flight({{TaskKey{"x", "y"}, 1}}, InFlightWrite::move_if_present);  // not recorded: stays so
  EXPECT_EQ(shard_->in_flight_due(250, 10), std::vector<TaskKey>{u});
  shard_->drop_in_flight(u);
  EXPECT_EQ(shard_->in_flight_all(), std::vector<TaskKey>{t});
}

TEST_F(RedisShardStoreTest, ARevokedAgentAndItsShardAreKnown) {
  const std::string a = agent(true);
  EXPECT_EQ(shard_->agent_shard(a), kShard);
  EXPECT_EQ(shard_->agent_shard(proto::new_uuid()), "");
  EXPECT_FALSE(shard_->is_revoked(a));
  api_->revoke_agent(a, "acme", {});
  EXPECT_TRUE(shard_->is_revoked(a));
  EXPECT_EQ(shard_->check_reports({a}, {}).revoked_agents.count(a), 1u);
}

TEST_F(RedisShardStoreTest, AnAdminReplyReachesTheApiWaitingForIt) {
  shard_->post_admin_reply("req-1", "ok");
  EXPECT_EQ(store_->run({"LPOP", keys::reply("req-1")}).text, "ok");
  EXPECT_GT(store_->run({"TTL", keys::reply("req-1")}).integer, -3);
}

}  // namespace
}  // namespace muster::hub
