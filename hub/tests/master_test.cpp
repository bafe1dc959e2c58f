// The master's parts (dispatcher, sweeper, parking, recorder, inbound
// routing, job watch) against the in-memory shard store and a fake XMPP link:
// what each sends to agents and what it changes in the store.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "core/auth.hpp"
#include "fake_link.hpp"
#include "master/dispatcher.hpp"
#include "master/inbound.hpp"
#include "master/job_watch.hpp"
#include "master/recorder.hpp"
#include "memory_shard_store.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/stanza.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {

using testing::MemoryShardStore;

constexpr const char* kShard = "shard-a.xmpp.example";
constexpr const char* kDomain = "xmpp.example";

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

class MasterTest : public ::testing::Test {
 protected:
  MasterTest()
      : region_{"r1", kDomain, "127.0.0.1", 5222, "", "127.0.0.1", 5347, "secret", {kShard}},
        shard_{region_, kShard, store_, link_},
        writer_([this] { ++store_failures_; }),
        recorder_(
            store_, kResultGraceSeconds, [this](std::vector<Recorder::Answer> a) { take_answers(std::move(a)); },
            [this] { ++store_failures_; }),
        sender_(shard_),
        parking_(shard_),
        sweeper_(shard_, sender_, parking_),
        admin_(shard_, writer_),
        inbound_(shard_, recorder_, writer_, sender_, parking_, admin_),
        dispatcher_(shard_, "lease-1", sender_, parking_, sweeper_, admin_) {
    writer_.start();
    recorder_.start();
  }
  ~MasterTest() override {
    writer_.stop();
    recorder_.stop();
  }

  std::string agent(bool online) {
    const std::string id = proto::new_uuid();
    store_.add_agent(id, online);
    return id;
  }
  std::string jid(const std::string& agent_id) { return agent_id + "@" + kDomain + "/muster"; }
  // Every task on the shard's queue, dispatched as the dispatcher would.
  void dispatch_queue() {
    std::vector<TaskKey> batch;
    {
      std::lock_guard<std::recursive_mutex> lock(store_.mutex);
      auto& queue = store_.queues[kShard];
      batch.assign(queue.begin(), queue.end());
      queue.clear();
    }
    dispatcher_.dispatch(batch);
  }
  // Lets the store writer and the recorder finish what they were given.
  void settle() {
    writer_.stop();
    recorder_.stop();
    writer_.start();
    recorder_.start();
  }
  // A stanza from an agent, as the component link hands it over.
  void receive(proto::StanzaRef stanza, const std::string& from) {
    xmpp_stanza_set_from(stanza.get(), from.c_str());
    inbound_.on_stanza(stanza.get());
    settle();
  }
  void receive_result(const std::string& agent_id, const std::string& job_id, const std::string& task_id,
                      proto::TaskOutcome state = proto::TaskOutcome::succeeded) {
    proto::TaskResult result;
    result.task_id = task_id;
    result.job_id = job_id;
    result.state = state;
    result.exit_code = state == proto::TaskOutcome::succeeded ? 0 : 1;
    receive(proto::make_payload_iq(link_.ctx(), "set", "r1", kShard, proto::kResultElement, proto::encode(result)),
            jid(agent_id));
  }
  void receive_ack(const std::string& agent_id, const std::string& job_id) {
    receive(proto::make_iq_result(link_.ctx(), kTaskIdPrefix + job_id, kShard), jid(agent_id));
  }
  std::string state(const std::string& job_id, const std::string& agent_id) {
    return store_.task_state({job_id, agent_id});
  }
  std::string task_id(const std::string& job_id, const std::string& agent_id) {
    std::lock_guard<std::recursive_mutex> lock(store_.mutex);
    return store_.tasks[{job_id, agent_id}].task_id;
  }
  double due(const std::string& job_id, const std::string& agent_id) {
    std::lock_guard<std::recursive_mutex> lock(store_.mutex);
    return store_.in_flight[{job_id, agent_id}];
  }
  bool in_flight(const std::string& job_id, const std::string& agent_id) {
    std::lock_guard<std::recursive_mutex> lock(store_.mutex);
    return store_.in_flight.count({job_id, agent_id}) != 0;
  }
  void take_answers(std::vector<Recorder::Answer> answers) {
    std::lock_guard<std::mutex> lock(answers_mutex_);
    for (auto& a : answers) answers_.push_back(std::move(a));
  }
  std::vector<Recorder::Answer> answers() {
    std::lock_guard<std::mutex> lock(answers_mutex_);
    return answers_;
  }

  MemoryShardStore store_{kShard};
  testing::FakeLink link_;
  RegionConfig region_;
  ShardContext shard_;
  std::atomic<int> store_failures_{0};
  std::mutex answers_mutex_;
  std::vector<Recorder::Answer> answers_;
  StoreWriter writer_;
  Recorder recorder_;
  TaskSender sender_;
  Parking parking_;
  Sweeper sweeper_;
  XmppAdmin admin_;
  Inbound inbound_;
  Dispatcher dispatcher_;
};

TEST_F(MasterTest, DispatchSendsEachOnlineAgentItsSignedTaskAndWatchesIt) {
  const std::string a = agent(true), b = agent(true);
  const std::string job = store_.add_job({a, b});
  dispatch_queue();
  const auto sent = link_.take_sent();
  ASSERT_EQ(sent.size(), 2u);
  for (const auto& id : {a, b}) {
    EXPECT_EQ(state(job, id), "dispatched");
    EXPECT_TRUE(in_flight(job, id));
  }
  EXPECT_TRUE(contains(sent[0], "id=\"t:" + job + "\""));
  EXPECT_TRUE(contains(sent[0], "to=\"" + jid(a) + "\""));
  EXPECT_TRUE(contains(sent[0], "from=\"" + std::string(kShard) + "\""));
  EXPECT_TRUE(contains(sent[0], "statement"));
}

TEST_F(MasterTest, TasksOfOfflineAgentsAreParkedAndReleasedByTheirPresence) {
  const std::string a = agent(false);
  const std::string job = store_.add_job({a});
  dispatch_queue();
  EXPECT_TRUE(link_.take_sent().empty());
  EXPECT_EQ(state(job, a), "pending");
  EXPECT_EQ(store_.parked.count({job, a}), 1u);

  receive(proto::make_facts_presence(link_.ctx(), kShard, proto::encode(proto::Facts{"web-1", "linux", "x86_64", "6.1", "1.0", {}})),
          jid(a));
  EXPECT_EQ(store_.agents[a].status, "online");
  EXPECT_EQ(store_.agents[a].hostname, "web-1");
  EXPECT_EQ(store_.parked.count({job, a}), 0u);
  dispatch_queue();
  EXPECT_EQ(link_.take_sent().size(), 1u);
  EXPECT_EQ(state(job, a), "dispatched");
}

TEST_F(MasterTest, ConcurrencyLimitHoldsTasksUntilASlotIsFreed) {
  const std::string a = agent(true), b = agent(true), c = agent(true);
  MemoryShardStore::Job limits;
  limits.concurrency = 1;
  const std::string job = store_.add_job({a, b, c}, limits);
  dispatch_queue();
  EXPECT_EQ(link_.take_sent().size(), 1u);
  EXPECT_EQ(state(job, a), "dispatched");
  EXPECT_EQ(state(job, b), "pending");

  receive_ack(a, job);
  EXPECT_EQ(state(job, a), "running");
  receive_result(a, job, task_id(job, a));
  EXPECT_EQ(state(job, a), "succeeded");
  EXPECT_FALSE(in_flight(job, a));
  dispatch_queue();  // the freed slot's task came back on the queue
  EXPECT_EQ(link_.take_sent().size(), 1u);
  EXPECT_EQ(state(job, b), "dispatched");
  EXPECT_EQ(state(job, c), "pending");
}

TEST_F(MasterTest, MaxFailuresSkipsWhatIsLeftAndEndsTheJob) {
  const std::string a = agent(true), b = agent(false);
  MemoryShardStore::Job limits;
  limits.max_failures = 1;
  const std::string job = store_.add_job({a, b}, limits);
  dispatch_queue();
  receive_result(a, job, task_id(job, a), proto::TaskOutcome::failed);
  EXPECT_EQ(state(job, a), "failed");
  EXPECT_EQ(state(job, b), "skipped");
  EXPECT_EQ(store_.jobs[job].state, "failed");
  EXPECT_EQ(store_.running.count(job), 0u);
}

TEST_F(MasterTest, ResultsAreAnsweredOnceRecordedAndCheckedAgainstTheTaskSent) {
  const std::string a = agent(true);
  const std::string job = store_.add_job({a});
  dispatch_queue();
  receive_result(a, job, proto::new_uuid());  // not the task it was sent
  ASSERT_EQ(answers().size(), 1u);
  EXPECT_FALSE(answers()[0].ok);
  EXPECT_EQ(answers()[0].condition, "item-not-found");
  EXPECT_EQ(state(job, a), "dispatched");

  receive_result(a, job, task_id(job, a));
  ASSERT_EQ(answers().size(), 2u);
  EXPECT_TRUE(answers()[1].ok);
  EXPECT_EQ(state(job, a), "succeeded");
  EXPECT_EQ(store_.jobs[job].state, "succeeded");
}

TEST_F(MasterTest, ARevokedAgentIsRefusedLikeAStranger) {
  const std::string a = agent(true);
  const std::string job = store_.add_job({a});
  dispatch_queue();
  link_.take_sent();
  store_.agents[a].revoked = true;
  receive_result(a, job, task_id(job, a));
  ASSERT_EQ(answers().size(), 1u);
  EXPECT_EQ(answers()[0].condition, "forbidden");
  EXPECT_EQ(state(job, a), "dispatched");

  receive(proto::make_iq_result(link_.ctx(), "ping", kShard), jid(a));
  auto ping = proto::make_iq_result(link_.ctx(), "p1", kShard);
  xmpp_stanza_set_type(ping.get(), "get");
  receive(std::move(ping), jid(a));
  const auto sent = link_.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(contains(sent[0], "forbidden"));
}

TEST_F(MasterTest, StoreDownAnswersResultsWithWaitAndReportsTheOutage) {
  const std::string a = agent(true);
  const std::string job = store_.add_job({a});
  dispatch_queue();
  store_.down = true;
  receive_result(a, job, task_id(job, a));
  store_.down = false;
  ASSERT_EQ(answers().size(), 1u);
  EXPECT_EQ(answers()[0].error_type, "wait");
  EXPECT_GE(store_failures_.load(), 1);
  EXPECT_EQ(state(job, a), "dispatched");
  EXPECT_TRUE(in_flight(job, a));  // the sweep still watches it
}

TEST_F(MasterTest, AnUndeliveredTaskGoesBackToPendingAndIsParked) {
  const std::string a = agent(true);
  const std::string job = store_.add_job({a});
  dispatch_queue();
  link_.take_sent();
  receive(proto::make_iq_error(link_.ctx(), kTaskIdPrefix + job, kShard, "cancel", "service-unavailable", ""), jid(a));
  EXPECT_EQ(state(job, a), "pending");
  EXPECT_EQ(store_.agents[a].status, "offline");
  EXPECT_FALSE(in_flight(job, a));
  EXPECT_EQ(store_.parked.count({job, a}), 1u);
}

TEST_F(MasterTest, AnErrorNamingATaskTheAgentNeverHadChangesNothing) {
  const std::string a = agent(true);
  const std::string other_job = proto::new_uuid();
  receive(proto::make_iq_error(link_.ctx(), kTaskIdPrefix + other_job, kShard, "cancel", "service-unavailable", ""),
          jid(a));
  EXPECT_EQ(store_.agents[a].status, "online");
  const std::string job = store_.add_job({a});
  dispatch_queue();
  EXPECT_EQ(state(job, a), "dispatched");
}

TEST_F(MasterTest, OutputIsKeptOnlyForTheTaskSent) {
  const std::string a = agent(true);
  const std::string job = store_.add_job({a});
  dispatch_queue();
  for (const auto& id : {proto::new_uuid(), task_id(job, a)}) {
    proto::OutputChunk chunk{id, job, proto::Stream::stdout_stream, 1, "hello\n"};
    receive(proto::make_payload_message(link_.ctx(), kShard, proto::kOutputElement, proto::encode(chunk)), jid(a));
  }
  ASSERT_EQ(store_.output[job].size(), 1u);
  EXPECT_EQ(store_.output[job][0].task_id, task_id(job, a));
}

TEST_F(MasterTest, StanzasFromOutsideTheRegionAreRefused) {
  auto ping = proto::make_iq_result(link_.ctx(), "p1", kShard);
  xmpp_stanza_set_type(ping.get(), "set");
  receive(std::move(ping), "someone@elsewhere.example/x");
  const auto sent = link_.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(contains(sent[0], "not an agent of this region"));
}

TEST_F(MasterTest, SweepResendsUnacknowledgedTasksAndParksThoseOfOfflineAgents) {
  const std::string a = agent(true), b = agent(true);
  const std::string job = store_.add_job({a, b});
  dispatch_queue();
  link_.take_sent();
  store_.in_flight[{job, a}] = store_.in_flight[{job, b}] = unix_time() - 1;  // due
  store_.agents[b].status = "offline";
  sweeper_.sweep();
  const auto sent = link_.take_sent();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(contains(sent[0], jid(a)));
  EXPECT_GT(due(job, a), unix_time() + kAckWaitSeconds - 5);
  EXPECT_EQ(state(job, b), "pending");
  EXPECT_EQ(store_.parked.count({job, b}), 1u);
}

TEST_F(MasterTest, SweepGivesUpARunningTaskWhoseResultNeverCame) {
  const std::string a = agent(true);
  const std::string job = store_.add_job({a});
  dispatch_queue();
  receive_ack(a, job);
  EXPECT_GT(due(job, a), unix_time() + 300);  // timeout plus grace
  store_.in_flight[{job, a}] = unix_time() - 1;
  sweeper_.sweep();
  EXPECT_EQ(state(job, a), "failed");
  EXPECT_TRUE(contains(store_.tasks[{job, a}].fields["error"], "lost"));
  EXPECT_EQ(store_.jobs[job].state, "failed");
}

TEST_F(MasterTest, ParkedTasksPastTheDeadlineExpire) {
  const std::string a = agent(false);
  MemoryShardStore::Job limits;
  limits.deadline = unix_time() + 600;
  const std::string job = store_.add_job({a}, limits);
  dispatch_queue();
  store_.parked[{job, a}] = unix_time() - 1;
  sweeper_.sweep();
  EXPECT_EQ(state(job, a), "expired");
  EXPECT_EQ(store_.parked.count({job, a}), 0u);
  EXPECT_EQ(store_.jobs[job].state, "failed");
}

TEST_F(MasterTest, CancelReachesOnlyTheAgentsRunningTheJob) {
  const std::string a = agent(true), b = agent(false);
  const std::string job = store_.add_job({a, b});
  dispatch_queue();
  link_.take_sent();
  store_.queue_control({"cancel", job, "", "", ""});
  store_.queue_control({"format-disk", job, "", "", ""});  // unknown: ignored
  dispatcher_.start();
  std::vector<std::string> sent;
  for (int i = 0; i < 400 && sent.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sent = link_.take_sent();
  }
  dispatcher_.stop();
  ASSERT_EQ(sent.size(), 1u);
  EXPECT_TRUE(contains(sent[0], "id=\"x:" + job + "\""));
  EXPECT_TRUE(contains(sent[0], jid(a)));
}

TEST_F(MasterTest, TheDispatcherRecoversWhenTheStoreComesBack) {
  const std::string a = agent(true);
  const std::string job = store_.add_job({a});
  dispatch_queue();
  link_.take_sent();
  store_.down = true;
  dispatcher_.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  store_.down = false;
  // Back: every task in flight is looked at again, an unacknowledged one resent.
  std::vector<std::string> sent;
  for (int i = 0; i < 600 && sent.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    sent = link_.take_sent();
  }
  dispatcher_.stop();
  ASSERT_FALSE(sent.empty());
  EXPECT_TRUE(contains(sent[0], "id=\"t:" + job + "\""));
}

TEST_F(MasterTest, JobWatchQueuesLostPendingTasksAndWatchesActiveOnes) {
  const std::string a = agent(true), b = agent(true);
  const std::string job = store_.add_job({a, b});
  dispatch_queue();
  link_.take_sent();
  store_.tasks[{job, b}].state = "pending";  // its queue entry was lost
  store_.in_flight.clear();                   // and so was a's in-flight record
  JobWatch(store_, kAckWaitSeconds, kResultGraceSeconds).run(true);
  ASSERT_EQ(store_.queues[kShard].size(), 1u);
  EXPECT_EQ(store_.queues[kShard].front().agent_id, b);
  EXPECT_TRUE(in_flight(job, a));
  EXPECT_GT(store_.running[job], unix_time());
}

TEST_F(MasterTest, ATaskWhoseJobHasNoSignedRecordIsNotSent) {
  const std::string a = agent(true);
  const std::string job = store_.add_job({a});
  store_.jobs.erase(job);
  sender_.send({{job, a, "t-1", "proof"}}, {});
  EXPECT_TRUE(link_.take_sent().empty());
}

}  // namespace
}  // namespace muster::hub
