#pragma once
// The shard store in memory, for unit tests of the master's parts: the same
// verbs as RedisShardStore with the state machine of store/lua/ reduced to
// what those parts rely on (allowed states, counters, concurrency slots,
// max_failures, job end). The scripts themselves are tested against a real
// redis-server (job_watch_test.cpp, redis_shard_store_test.cpp).
// `down = true` makes every verb throw StoreError, like a store that is away.
#include <atomic>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <vector>

#include "store/shard_store.hpp"

namespace muster::hub::testing {

class MemoryShardStore final : public ShardStore {
 public:
  struct Agent {
    std::string status = "offline";
    std::string shard;
    std::string hostname;
    bool revoked = false;
  };
  struct Job {
    std::string state = "running";
    long concurrency = 0;
    long max_failures = 0;
    double deadline = 0;  // 0: none
    double timeout_s = 300;
    bool cancel_requested = false;
    bool halted = false;
    SignedJob signed_record{"statement", "signature", "key-1"};
    std::vector<std::string> agents;
    std::deque<std::string> waiting;
  };
  struct Task {
    std::string state = "pending";
    std::string task_id;
    std::string proof;
    std::string shard;
    std::map<std::string, std::string> fields;
  };

  explicit MemoryShardStore(std::string shard) : shard_(std::move(shard)) {}

  // Test set-up: a job with one pending task per agent, each on this shard
  // and on its queue.
  std::string add_job(const std::vector<std::string>& agent_ids);
  std::string add_job(const std::vector<std::string>& agent_ids, Job job);
  void add_agent(const std::string& agent_id, bool online);
  void queue_control(ControlRequest request);

  // What the tests look at (under the store's lock).
  std::recursive_mutex mutex;
  std::atomic<bool> down{false};
  std::string lease_token = "lease-1";
  std::map<std::string, Agent> agents;
  std::map<std::string, Job> jobs;
  std::map<TaskKey, Task> tasks;
  std::map<std::string, std::deque<TaskKey>> queues;  // by shard
  std::deque<ControlRequest> controls;
  std::map<TaskKey, double> in_flight;
  std::map<TaskKey, double> parked;  // by deadline
  std::map<std::string, double> running;
  std::map<std::string, std::vector<proto::OutputChunk>> output;  // by job
  std::map<std::string, std::string> admin_replies;

  const std::string& shard() const override { return shard_; }
  std::unique_ptr<DispatchFeed> open_dispatch_feed(const std::string& consumer) override;

  std::vector<bool> agents_online(const std::vector<std::string>& agent_ids) override;
  bool is_revoked(const std::string& agent_id) override;
  std::string agent_shard(const std::string& agent_id) override;
  void record_presence(const std::string& agent_id, bool online, const proto::Facts* facts) override;
  void record_undeliverable(const TaskKey& task) override;

  std::string task_state(const TaskKey& task) override;
  std::vector<ClaimDecision> claim_for_dispatch(const std::vector<TaskKey>& keys) override;
  std::vector<TransitionOutcome> transition(const std::vector<TransitionRequest>& requests,
                                            const std::vector<TaskKey>& settled) override;
  void follow_up(const std::string& job_id, const TransitionOutcome& outcome) override;
  std::vector<ActiveTask> tasks_of_job(const std::string& job_id) override;
  std::vector<SentTask> sent_tasks(const std::vector<TaskKey>& tasks) override;
  std::map<std::string, SignedJob> signed_jobs(const std::vector<std::string>& job_ids,
                                               const std::vector<InFlight>& watch) override;
  std::map<std::string, double> job_timeouts(const std::set<std::string>& job_ids) override;
  ReportChecks check_reports(const std::vector<std::string>& agent_ids, const std::vector<TaskKey>& results) override;
  bool append_output(const std::string& agent_id, const proto::OutputChunk& chunk) override;

  void watch_in_flight(const std::vector<InFlight>& entries, InFlightWrite how) override;
  std::vector<TaskKey> in_flight_due(double now, long limit) override;
  std::vector<TaskKey> in_flight_all() override;
  void drop_in_flight(const TaskKey& task) override;

  bool park(const TaskKey& task) override;
  void release_parked(const std::string& agent_id) override;
  std::vector<TaskKey> parked_overdue(double now, long limit) override;
  void unpark(const TaskKey& task) override;

  std::vector<std::string> running_jobs(bool all, double now, long limit) override;
  JobWatchOutcome watch_job(const std::string& job_id, bool force) override;
  void apply_job_watch(const JobWatchWrites& writes) override;

  void post_admin_reply(const std::string& request_id, const std::string& text) override;

 private:
  friend class MemoryDispatchFeed;
  // Called with the lock held by every verb: throws while the store is down.
  void check_up() const;
  TransitionOutcome move(const TaskKey& key, const std::string& new_state, const std::vector<std::string>& fields);
  void finish_job(const std::string& job_id);

  const std::string shard_;
};

}  // namespace muster::hub::testing
