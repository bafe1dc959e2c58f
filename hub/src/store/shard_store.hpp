#pragma once
// What a shard's master asks of the store, in the master's words: claim tasks
// for dispatch, change their states, watch them in flight, park them for
// offline agents, record what agents say. The Redis implementation
// (redis_shard_store.hpp) holds the commands, keys and scripts; unit tests use
// an in-memory one. Every verb that takes a batch is one round trip in Redis:
// callers batch, the store never splits.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/tasks.hpp"
#include "muster/proto/messages.hpp"
#include "store/store_error.hpp"

namespace muster::hub {

// A request for the master's control queue (cancel, XMPP account changes).
struct ControlRequest {
  std::string op;
  std::string job_id;
  std::string request_id;
  std::string jid;
  std::string password;
};

// Entries read from one of the shard's queues, to be acknowledged once handled.
struct QueueDelivery {
  std::vector<TaskKey> tasks;
  std::vector<ControlRequest> controls;
  std::string queue;
  std::vector<std::string> entry_ids;
};

// The dispatcher's reading of its shard's queues, on a connection of its own
// (it blocks). Throws StoreError when the store fails: open a new feed then.
class DispatchFeed {
 public:
  virtual ~DispatchFeed() = default;
  // Whether this master still holds the shard's lease (a fenced master reads nothing).
  virtual bool holds_lease(const std::string& lease_token) = 0;
  // Up to `room` tasks (none with room 0) and any control requests; waits up
  // to about a second for tasks when there is room.
  virtual std::vector<QueueDelivery> read(long room) = 0;
  // Handled entries leave their queue for good (control entries carry passwords).
  virtual void acknowledge(const QueueDelivery& delivery) = 0;
};

// A task sent and not finished, and when to look at it again.
struct InFlight {
  TaskKey task;
  double due = 0;
};
enum class InFlightWrite {
  set,              // record, or move the due time
  keep_if_present,  // record only tasks not recorded yet
  move_if_present,  // move the due time of tasks still recorded
};

// What a second look at a task in flight needs.
struct SentTask {
  std::string state;  // empty: the task is gone
  std::string task_id;
  std::string proof;
  bool agent_online = false;
};

// The api's signature over a job, which the master forwards and cannot make.
struct SignedJob {
  std::string statement;
  std::string signature;
  std::string key_id;
};

// A task of a job that the master may have to cancel on its agent.
struct ActiveTask {
  std::string agent_id;
  std::string state;
  std::string shard;
  std::string task_id;
};

// Checks of one batch of agent reports.
struct ReportChecks {
  std::set<std::string> revoked_agents;
  std::vector<std::string> sent_task_ids;  // per result asked about, in order; empty: none
};

class ShardStore {
 public:
  virtual ~ShardStore() = default;
  virtual const std::string& shard() const = 0;

  virtual std::unique_ptr<DispatchFeed> open_dispatch_feed(const std::string& consumer) = 0;

  // Agents.
  virtual std::vector<bool> agents_online(const std::vector<std::string>& agent_ids) = 0;
  virtual bool is_revoked(const std::string& agent_id) = 0;
  // The shard an agent is enrolled in; empty: not enrolled.
  virtual std::string agent_shard(const std::string& agent_id) = 0;
  // Online with the facts it announced (none: keep the old), or offline.
  virtual void record_presence(const std::string& agent_id, bool online, const proto::Facts* facts) = 0;
  // Offline because a task could not be delivered; the task leaves the in-flight watch.
  virtual void record_undeliverable(const TaskKey& task) = 0;

  // Task states (core/tasks.hpp).
  virtual std::string task_state(const TaskKey& task) = 0;
  virtual std::vector<ClaimDecision> claim_for_dispatch(const std::vector<TaskKey>& tasks) = 0;
  // In order; the tasks in `settled` leave the in-flight watch in the same round trip.
  virtual std::vector<TransitionOutcome> transition(const std::vector<TransitionRequest>& requests,
                                                    const std::vector<TaskKey>& settled = {}) = 0;
  virtual void follow_up(const std::string& job_id, const TransitionOutcome& outcome) = 0;
  virtual std::vector<ActiveTask> tasks_of_job(const std::string& job_id) = 0;
  // In order, in one round trip.
  virtual std::vector<SentTask> sent_tasks(const std::vector<TaskKey>& tasks) = 0;
  // The signed records of the jobs, after writing `watch` (InFlightWrite::set)
  // in the same round trip; a job that cannot be read is missing from the map.
  virtual std::map<std::string, SignedJob> signed_jobs(const std::vector<std::string>& job_ids,
                                                       const std::vector<InFlight>& watch) = 0;
  // Each job's task timeout in seconds.
  virtual std::map<std::string, double> job_timeouts(const std::set<std::string>& job_ids) = 0;
  virtual ReportChecks check_reports(const std::vector<std::string>& agent_ids,
                                     const std::vector<TaskKey>& results) = 0;
  // Appends a chunk of live output if it belongs to the task sent; false if not.
  virtual bool append_output(const std::string& agent_id, const proto::OutputChunk& chunk) = 0;

  // The in-flight watch of this shard.
  virtual void watch_in_flight(const std::vector<InFlight>& tasks, InFlightWrite how) = 0;
  virtual std::vector<TaskKey> in_flight_due(double now, long limit) = 0;
  virtual std::vector<TaskKey> in_flight_all() = 0;
  virtual void drop_in_flight(const TaskKey& task) = 0;

  // Parking: tasks of offline agents wait for their agent's presence.
  // Returns whether the agent is online by now (then release it).
  virtual bool park(const TaskKey& task) = 0;
  // Back onto the shard's queue, every task the agent had parked.
  virtual void release_parked(const std::string& agent_id) = 0;
  virtual std::vector<TaskKey> parked_overdue(double now, long limit) = 0;
  virtual void unpark(const TaskKey& task) = 0;

  // The job watch (master/job_watch.hpp), over every running job.
  virtual std::vector<std::string> running_jobs(bool all, double now, long limit) = 0;
  virtual JobWatchOutcome watch_job(const std::string& job_id, bool force) = 0;
  struct JobWatchWrites {
    std::vector<std::string> forget;                                   // gone
    std::vector<std::pair<std::string, double>> next_look;             // job, when
    std::vector<std::pair<std::string, TaskKey>> enqueue;              // shard, task
    std::vector<std::pair<std::string, InFlight>> watch_if_untracked;  // shard, task
  };
  virtual void apply_job_watch(const JobWatchWrites& writes) = 0;

  // The answer to an admin request the api waits for.
  virtual void post_admin_reply(const std::string& request_id, const std::string& text) = 0;
};

}  // namespace muster::hub
