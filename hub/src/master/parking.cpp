#include "master/parking.hpp"

#include "core/auth.hpp"
#include "core/tasks.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

constexpr long kExpireLimit = 500;

}  // namespace

void Parking::park(const std::string& job_id, const std::string& agent_id) {
  Store& store = shard_.store;
  const Reply deadline = store.run({"HGET", keys::job(job_id), "deadline"});
  const auto replies =
      store.pipeline({{"SADD", keys::parked(shard_.shard, agent_id), job_id},
                      {"ZADD", keys::parked_deadlines(shard_.shard), deadline.text.empty() ? "+inf" : deadline.text,
                       job_id + "|" + agent_id},
                      {"HGET", keys::agent(agent_id), "status"}});
  // The agent's presence may have come (and found nothing parked) between
  // our look at its status and now: then release what was just parked. A
  // task queued twice is claimed once.
  if (replies[2].text == "online") release(agent_id);
}

void Parking::release(const std::string& agent_id) {
  Store& store = shard_.store;
  const std::string parked = keys::parked(shard_.shard, agent_id);
  const auto replies = store.pipeline({{"SMEMBERS", parked}, {"DEL", parked}});
  std::vector<Command> requeue;
  for (const auto& job : replies[0].elements) {
    requeue.push_back({"ZREM", keys::parked_deadlines(shard_.shard), job.text + "|" + agent_id});
    requeue.push_back({"XADD", keys::dispatch_queue(shard_.shard), "*", "job", job.text, "agent", agent_id});
  }
  store.pipeline(requeue);
}

void Parking::expire_overdue() {
  Store& store = shard_.store;
  const std::string now = format_time(unix_time());
  const Reply expired = store.run({"ZRANGEBYSCORE", keys::parked_deadlines(shard_.shard), "-inf", now, "LIMIT", "0",
                                   std::to_string(kExpireLimit)});
  for (const auto& member : expired.elements) {
    const auto bar = member.text.find('|');
    if (bar == std::string::npos) continue;
    const std::string job_id = member.text.substr(0, bar), agent_id = member.text.substr(bar + 1);
    const auto outcome = transition_task(store, job_id, agent_id, "expired", {"pending"},
                                         {"error", "not delivered before the job deadline (agent offline)",
                                          "finished_at", now});
    store.pipeline({{"ZREM", keys::parked_deadlines(shard_.shard), member.text},
                    {"SREM", keys::parked(shard_.shard, agent_id), job_id}});
    follow_up(store, job_id, outcome);
  }
}

}  // namespace muster::hub
