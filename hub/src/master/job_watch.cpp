#include "master/job_watch.hpp"

#include "core/auth.hpp"

namespace muster::hub {
namespace {

constexpr long kJobsPerRun = 200;

}  // namespace

JobWatch::JobWatch(ShardStore& store, double ack_wait_s, double result_grace_s)
    : store_(store), ack_wait_s_(ack_wait_s), result_grace_s_(result_grace_s) {}

std::size_t JobWatch::run(bool force) {
  std::size_t repaired = 0;
  ShardStore::JobWatchWrites writes;
  for (const auto& job_id : store_.running_jobs(force, unix_time(), kJobsPerRun)) {
    const JobWatchOutcome outcome = store_.watch_job(job_id, force);
    switch (outcome.kind) {
      case JobWatchOutcome::Kind::gone:
        writes.forget.push_back(job_id);
        break;
      case JobWatchOutcome::Kind::finished_before: {
        // Its end's follow-up (expiry of its records) may have been lost.
        TransitionOutcome finished;
        finished.job_finished = true;
        store_.follow_up(job_id, finished);
        break;
      }
      case JobWatchOutcome::Kind::not_due:
        writes.next_look.emplace_back(job_id, outcome.next_look);
        break;
      case JobWatchOutcome::Kind::looked:
        if (!outcome.to_enqueue.empty() || outcome.job_finished) ++repaired;
        apply(job_id, outcome, writes);
        break;
    }
  }
  store_.apply_job_watch(writes);
  return repaired;
}

void JobWatch::apply(const std::string& job_id, const JobWatchOutcome& outcome, ShardStore::JobWatchWrites& writes) {
  const double now = unix_time();
  for (const auto& t : outcome.to_enqueue) {
    if (!t.shard.empty()) writes.enqueue.push_back({t.shard, {job_id, t.agent_id}});
  }
  // A record that is there already keeps its due time.
  for (const auto& t : outcome.active) {
    if (t.shard.empty()) continue;
    const double due = t.state == "running" ? now + outcome.timeout_s + result_grace_s_ : now + ack_wait_s_;
    writes.watch_if_untracked.push_back({t.shard, {{job_id, t.agent_id}, due}});
  }
  if (outcome.job_finished) {
    TransitionOutcome finished;
    finished.job_finished = true;
    store_.follow_up(job_id, finished);
  } else {
    writes.next_look.emplace_back(job_id, outcome.next_look);
  }
}

}  // namespace muster::hub
