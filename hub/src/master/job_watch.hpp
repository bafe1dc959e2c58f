#pragma once
// The job watch: what makes sure no task of a running job is left where
// nothing looks at it, whatever the store kept of its last writes.
//
// Every state a task can be in has a watcher:
//   pending     the shard's dispatch queue (the claim), the job's waiting
//               list (a freed slot pops it), or the parked set (the agent's
//               presence releases it; the parked deadline expires it)
//   dispatched  the shard's in-flight set (resent until acknowledged, parked
//               when its agent is offline)
//   running     the shard's in-flight set (failed as lost after its timeout
//               plus grace)
//   final       nothing to watch
// Each of those records is written by a step outside the state change's own
// script (the queues and the in-flight sets live in other hash slots), so an
// outage between the two can lose it. The watch closes that gap: each
// running job is on muster:running-jobs; one that has not moved for
// kJobWatchStallSeconds (or any, right after a store outage) is looked at by
// watch_job(), which ends what the job no longer wants and hands back the
// pending and active tasks, which the watch puts back on their queue and
// in-flight set (both idempotent). Every job is looked at by its deadline.
#include <cstddef>
#include <string>

#include "core/tasks.hpp"
#include "store/shard_store.hpp"

namespace muster::hub {

class JobWatch {
 public:
  // `ack_wait_s` and `result_grace_s` give the in-flight records it restores
  // the same due times the dispatcher gives them.
  JobWatch(ShardStore& store, double ack_wait_s, double result_grace_s);

  // Looks at the running jobs that are due, or at every running job when
  // `force`; returns how many jobs it repaired (looked at and changed).
  std::size_t run(bool force);

 private:
  void apply(const std::string& job_id, const JobWatchOutcome& outcome, ShardStore::JobWatchWrites& writes);

  ShardStore& store_;
  const double ack_wait_s_;
  const double result_grace_s_;
};

}  // namespace muster::hub
