#include "master/job_watch.hpp"

#include "core/auth.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

constexpr long kJobsPerRun = 200;

}  // namespace

JobWatch::JobWatch(Store& store, double ack_wait_s, double result_grace_s)
    : store_(store), ack_wait_s_(ack_wait_s), result_grace_s_(result_grace_s) {}

std::size_t JobWatch::run(bool force) {
  const Reply due = force ? store_.run({"ZRANGE", keys::kRunningJobs, "0", "-1"})
                          : store_.run({"ZRANGEBYSCORE", keys::kRunningJobs, "-inf", format_time(unix_time()),
                                        "LIMIT", "0", std::to_string(kJobsPerRun)});
  std::size_t repaired = 0;
  std::vector<Command> writes;
  for (const auto& member : due.elements) {
    const std::string& job_id = member.text;
    const JobWatchOutcome outcome =
        watch_job(store_, job_id, force, kJobWatchStallSeconds, kJobWatchLongestIntervalSeconds);
    switch (outcome.kind) {
      case JobWatchOutcome::Kind::gone:
        writes.push_back({"ZREM", keys::kRunningJobs, job_id});
        break;
      case JobWatchOutcome::Kind::finished_before: {
        // Its end's follow-up (expiry of its records) may have been lost.
        TransitionOutcome finished;
        finished.job_finished = true;
        follow_up(store_, job_id, finished);
        break;
      }
      case JobWatchOutcome::Kind::not_due:
        writes.push_back({"ZADD", keys::kRunningJobs, "XX", format_time(outcome.next_look), job_id});
        break;
      case JobWatchOutcome::Kind::looked:
        if (!outcome.to_enqueue.empty() || outcome.job_finished) ++repaired;
        apply(job_id, outcome, writes);
        break;
    }
  }
  for (const auto& reply : store_.pipeline(writes)) {
    if (reply.kind == Reply::Kind::error) throw StoreError(reply.text);
  }
  return repaired;
}

void JobWatch::apply(const std::string& job_id, const JobWatchOutcome& outcome, std::vector<Command>& writes) {
  const double now = unix_time();
  for (const auto& t : outcome.to_enqueue) {
    if (t.shard.empty()) continue;
    writes.push_back({"XADD", keys::dispatch_queue(t.shard), "*", "job", job_id, "agent", t.agent_id});
  }
  // NX: a record that is there already keeps its due time.
  for (const auto& t : outcome.active) {
    if (t.shard.empty()) continue;
    const double due = t.state == "running" ? now + outcome.timeout_s + result_grace_s_ : now + ack_wait_s_;
    writes.push_back({"ZADD", keys::inflight(t.shard), "NX", format_time(due), job_id + "|" + t.agent_id});
  }
  if (outcome.job_finished) {
    TransitionOutcome finished;
    finished.job_finished = true;
    follow_up(store_, job_id, finished);
  } else {
    writes.push_back({"ZADD", keys::kRunningJobs, "XX", format_time(outcome.next_look), job_id});
  }
}

}  // namespace muster::hub
