#pragma once
// The shard store on Redis: every command, key (keys.hpp) and script
// (lua/*.lua) the master uses.
#include "store/shard_store.hpp"
#include "store/store.hpp"

namespace muster::hub {

class RedisShardStore final : public ShardStore {
 public:
  RedisShardStore(Store& store, std::string shard) : store_(store), shard_(std::move(shard)) {}

  const std::string& shard() const override { return shard_; }
  std::unique_ptr<DispatchFeed> open_dispatch_feed(const std::string& consumer) override;

  std::vector<bool> agents_online(const std::vector<std::string>& agent_ids) override;
  bool is_revoked(const std::string& agent_id) override;
  std::string agent_shard(const std::string& agent_id) override;
  void record_presence(const std::string& agent_id, bool online, const proto::Facts* facts) override;
  void record_undeliverable(const TaskKey& task) override;

  std::string task_state(const TaskKey& task) override;
  std::vector<ClaimDecision> claim_for_dispatch(const std::vector<TaskKey>& tasks) override;
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

  void watch_in_flight(const std::vector<InFlight>& tasks, InFlightWrite how) override;
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
  Store& store_;
  const std::string shard_;
};

}  // namespace muster::hub
