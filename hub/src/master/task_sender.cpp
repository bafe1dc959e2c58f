#include "master/task_sender.hpp"

#include <algorithm>

#include "metrics/metrics.hpp"
#include "muster/proto/log.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/stanza.hpp"

namespace muster::hub {
namespace {

constexpr auto kRoomWait = std::chrono::milliseconds(20);

}  // namespace

void TaskSender::answered() {
  for (long n = awaiting_answer_.load(); n > 0;) {
    if (awaiting_answer_.compare_exchange_weak(n, n - 1)) {
      in_flight_gauge_.set(static_cast<double>(n - 1));
      if (kDispatchWindow - (n - 1) == kMinBatch) room_freed_.notify_one();
      return;
    }
  }
}

long TaskSender::room() {
  const long room = kDispatchWindow - awaiting_answer_.load();
  if (room > 0) {
    full_since_.reset();
    return room;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!full_since_) full_since_ = now;
  if (now - *full_since_ > std::chrono::seconds(static_cast<long>(kAckWaitSeconds))) {
    // Answers lost with dropped sessions never come; the sweep sends those
    // tasks again. Start counting afresh.
    awaiting_answer_ = 0;
    full_since_.reset();
    return kDispatchWindow;
  }
  return 0;
}

long TaskSender::wait_for_room(const std::atomic<bool>& stopping) {
  // answered() notifies without taking the lock, so a wake-up can be missed;
  // the timeout bounds what that costs.
  std::unique_lock<std::mutex> lock(room_mutex_);
  room_freed_.wait_for(lock, kRoomWait,
                       [&] { return stopping.load() || kDispatchWindow - awaiting_answer_.load() >= kMinBatch; });
  return room();
}

void TaskSender::send(const std::vector<Claimed>& tasks, const std::vector<InFlight>& watch) {
  if (tasks.empty()) return;
  // Each job's signed fields once, whatever the number of its tasks.
  std::vector<std::string> job_ids;
  for (const auto& t : tasks) {
    if (std::find(job_ids.begin(), job_ids.end(), t.job_id) == job_ids.end()) job_ids.push_back(t.job_id);
  }
  // A task whose job cannot be read is logged below and left to the sweep
  // (its in-flight record is what the sweep finds); throwing here would
  // strand the whole batch as dispatched.
  const auto jobs = shard_.store.signed_jobs(job_ids, watch);
  struct Outgoing {
    std::string to, job_id, payload;
  };
  std::vector<Outgoing> outgoing;
  outgoing.reserve(tasks.size());
  for (const auto& claimed : tasks) {
    const auto job = jobs.find(claimed.job_id);
    if (job == jobs.end() || claimed.task_id.empty()) {
      log::info("master", "task has no signed record; not sent",
                {{"job_id", claimed.job_id}, {"agent_id", claimed.agent_id}});
      continue;
    }
    // The master forwards the api's signed statement and signature; it cannot
    // make either. The command and its options travel inside the statement.
    proto::Task t;
    t.task_id = claimed.task_id;
    t.auth = proto::TaskAuth{job->second.key_id, job->second.signature, job->second.statement, claimed.proof};
    outgoing.push_back({shard_.agent_jid(claimed.agent_id), claimed.job_id, proto::encode(t)});
  }
  awaiting_answer_ += static_cast<long>(outgoing.size());
  static auto& sent = metrics::registry().counter("muster_tasks_sent_total", "Tasks sent to their agents");
  sent.add(static_cast<double>(outgoing.size()));
  in_flight_gauge_.set(static_cast<double>(awaiting_answer_.load()));
  shard_.link.post([this, outgoing = std::move(outgoing)] {
    for (const auto& o : outgoing) {
      auto iq = proto::make_payload_iq(shard_.link.ctx(), "set", kTaskIdPrefix + o.job_id, o.to,
                                       proto::kTaskElement, o.payload);
      shard_.send(iq.get());
    }
  });
}

}  // namespace muster::hub
