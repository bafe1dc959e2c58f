#include "master/sweeper.hpp"

#include "core/auth.hpp"
#include "core/tasks.hpp"
#include "muster/proto/log.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

constexpr long kSweepLimit = 500;

}  // namespace

Sweeper::Sweeper(const ShardContext& shard, TaskSender& sender, Parking& parking)
    : shard_(shard), sender_(sender), parking_(parking), job_watch_(shard.store, kAckWaitSeconds, kResultGraceSeconds) {}

void Sweeper::sweep() {
  parking_.expire_overdue();
  const Reply due = shard_.store.run({"ZRANGEBYSCORE", keys::inflight(shard_.shard), "-inf",
                                      format_time(unix_time()), "LIMIT", "0", std::to_string(kSweepLimit)});
  std::vector<std::string> members;
  for (const auto& member : due.elements) members.push_back(member.text);
  look_again(members, Look::due);
  job_watch_.run(false);
}

void Sweeper::look_again_at_all(Look why) {
  const Reply inflight = shard_.store.run({"ZRANGE", keys::inflight(shard_.shard), "0", "-1"});
  std::vector<std::string> members;
  for (const auto& m : inflight.elements) members.push_back(m.text);
  log::info("master", std::string(why == Look::link_back ? "component link" : "store") + " back: looking again at " +
                         std::to_string(members.size()) + " task(s) in flight");
  look_again(members, why);
}

void Sweeper::recover_from_store_outage() {
  const std::size_t repaired = job_watch_.run(true);
  log::info("master", "store reachable again: the job watch repaired " + std::to_string(repaired) + " job(s)");
  look_again_at_all(Look::store_back);
}

void Sweeper::look_again(const std::vector<std::string>& members, Look why) {
  Store& store = shard_.store;
  const std::string now = format_time(unix_time());
  const std::string inflight = keys::inflight(shard_.shard);
  for (const auto& member : members) {
    const auto bar = member.find('|');
    if (bar == std::string::npos) continue;
    const std::string job_id = member.substr(0, bar), agent_id = member.substr(bar + 1);
    const auto replies = store.pipeline({{"HMGET", keys::task(job_id, agent_id), "state", "task_id", "proof"},
                                         {"HGET", keys::agent(agent_id), "status"}});
    if (replies[0].elements.size() != 3) continue;
    const std::string& state = replies[0].elements[0].text;
    const bool online = replies[1].text == "online";
    const TaskSender::Claimed task{job_id, agent_id, replies[0].elements[1].text, replies[0].elements[2].text};
    if (state == "dispatched" && online) {
      sender_.send({task}, {{"ZADD", inflight, format_time(unix_time() + kAckWaitSeconds), member}});
    } else if (state == "dispatched") {
      store.run({"ZREM", inflight, member});
      const auto outcome = transition_task(store, job_id, agent_id, "pending", {"dispatched"});
      if (outcome.moved) parking_.park(job_id, agent_id);
      follow_up(store, job_id, outcome);
    } else if (state == "running" && why == Look::store_back) {
      if (online) sender_.send({task}, {});
    } else if (state == "running") {
      if (why != Look::due) continue;
      store.run({"ZREM", inflight, member});
      const auto outcome = transition_task(
          store, job_id, agent_id, "failed", {"running"},
          {"error", "lost: no result within the task timeout plus " +
                        std::to_string(static_cast<int>(kResultGraceSeconds)) +
                        " s (the agent went away while running it)",
           "finished_at", now});
      follow_up(store, job_id, outcome);
    } else {
      store.run({"ZREM", inflight, member});
    }
  }
}

}  // namespace muster::hub
