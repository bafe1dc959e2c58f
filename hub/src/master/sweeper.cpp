#include "master/sweeper.hpp"

#include "core/auth.hpp"
#include "muster/proto/log.hpp"

namespace muster::hub {
namespace {

constexpr long kSweepLimit = 500;

}  // namespace

Sweeper::Sweeper(const ShardContext& shard, TaskSender& sender, Parking& parking)
    : shard_(shard), sender_(sender), parking_(parking), job_watch_(shard.store, kAckWaitSeconds, kResultGraceSeconds) {}

void Sweeper::sweep() {
  parking_.expire_overdue();
  look_again(shard_.store.in_flight_due(unix_time(), kSweepLimit), Look::due);
  job_watch_.run(false);
}

void Sweeper::look_again_at_all(Look why) {
  const auto tasks = shard_.store.in_flight_all();
  log::info("master", std::string(why == Look::link_back ? "component link" : "store") + " back: looking again at " +
                         std::to_string(tasks.size()) + " task(s) in flight");
  look_again(tasks, why);
}

void Sweeper::recover_from_store_outage() {
  const std::size_t repaired = job_watch_.run(true);
  log::info("master", "store reachable again: the job watch repaired " + std::to_string(repaired) + " job(s)");
  look_again_at_all(Look::store_back);
}

void Sweeper::look_again(const std::vector<TaskKey>& tasks, Look why) {
  ShardStore& store = shard_.store;
  // One round trip for the whole look, however many tasks are in flight, and
  // one more for everything sent again.
  const std::vector<SentTask> all_sent = store.sent_tasks(tasks);
  std::vector<TaskSender::Claimed> resend;
  std::vector<InFlight> resend_watch;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const TaskKey& task = tasks[i];
    const SentTask& sent = all_sent[i];
    const TaskSender::Claimed claimed{task.job_id, task.agent_id, sent.task_id, sent.proof};
    if (sent.agent_online && (sent.state == "dispatched" || (sent.state == "running" && why == Look::store_back))) {
      // Unacknowledged, or running when the store may have lost its result:
      // the agent answers a repeat from its journal.
      resend.push_back(claimed);
      if (sent.state == "dispatched") resend_watch.push_back({task, unix_time() + kAckWaitSeconds});
    } else if (sent.state == "dispatched") {
      back_to_parking(task);
    } else if (sent.state == "running") {
      if (why == Look::due) give_up(task);
    } else {
      store.drop_in_flight(task);  // ended, or gone
    }
  }
  sender_.send(resend, resend_watch);
}

void Sweeper::back_to_parking(const TaskKey& task) {
  ShardStore& store = shard_.store;
  store.drop_in_flight(task);
  const auto outcome = store.transition({{task.job_id, task.agent_id, "pending", {"dispatched"}, {}}}).front();
  if (outcome.moved) parking_.park(task);
  store.follow_up(task.job_id, outcome);
}

void Sweeper::give_up(const TaskKey& task) {
  ShardStore& store = shard_.store;
  store.drop_in_flight(task);
  const auto outcome = store.transition(
      {{task.job_id, task.agent_id, "failed", {"running"},
        {"error", "lost: no result within the task timeout plus " +
                      std::to_string(static_cast<int>(kResultGraceSeconds)) + " s (the agent went away while running it)",
         "finished_at", format_time(unix_time())}}}).front();
  store.follow_up(task.job_id, outcome);
}

}  // namespace muster::hub
