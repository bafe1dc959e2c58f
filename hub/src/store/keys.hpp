#pragma once
// Every store key in one place. Braces are Redis Cluster hash tags: all keys
// of one job (or of one shard's queues) live in one slot, so scripts and
// pipelines over them work on a cluster too.
#include <string>

namespace muster::hub::keys {

inline std::string token(const std::string& token_hash) { return "muster:token:" + token_hash; }
// A tenant's state and quotas; a deleted tenant keeps its record (state
// "deleted") so that its name, under which its jobs and audit stay, is never reused.
inline std::string tenant(const std::string& name) { return "muster:tenant:{" + name + "}"; }
inline const char* kTenants = "muster:tenants";
// Jobs a tenant submitted in one minute (unix time / 60), for its quota.
inline std::string tenant_job_count(const std::string& name, long long minute) {
  return "muster:tenant:{" + name + "}:jobs:" + std::to_string(minute);
}
inline std::string tenant_tokens(const std::string& tenant) { return "muster:tokens:{" + tenant + "}"; }
// Every API write of a tenant: who, what, when, from where, with what outcome.
inline std::string audit(const std::string& tenant) { return "muster:audit:{" + tenant + "}"; }
inline std::string agent(const std::string& agent_id) { return "muster:agent:{" + agent_id + "}"; }
// Agents whose stanzas the masters refuse: revoked ones for good, the agents
// of a suspended tenant until it resumes.
inline const char* kRefusedAgents = "muster:refused-agents";
inline std::string tenant_agents(const std::string& tenant) { return "muster:agents:{" + tenant + "}"; }
// The tenant's agents that carry label key=value (keys never contain '='), so
// a job by label reads only the agents it targets, not the whole fleet.
inline std::string label_agents(const std::string& tenant, const std::string& key, const std::string& value) {
  return "muster:agents:{" + tenant + "}:label:" + key + "=" + value;
}
// The tenant's agents in id order (a sorted set, every score 0), so a page of
// the agents list reads only its own agents.
inline std::string agents_by_id(const std::string& tenant) { return "muster:agents:{" + tenant + "}:by-id"; }
// "1" once every agent enrolled before the label and id indexes existed is in them.
inline const char* kAgentIndexVersion = "muster:agent-index-version";
// Every running job, scored by when the job watch is to look at it next
// (master/job_watch.hpp). One key, outside any job's slot.
inline const char* kRunningJobs = "muster:running-jobs";
inline std::string tenant_jobs(const std::string& tenant) { return "muster:jobs:{" + tenant + "}"; }

inline std::string job(const std::string& job_id) { return "muster:job:{" + job_id + "}"; }
inline std::string job_tasks(const std::string& job_id) { return "muster:job:{" + job_id + "}:tasks"; }
inline std::string task(const std::string& job_id, const std::string& agent_id) {
  return "muster:job:{" + job_id + "}:task:" + agent_id;
}
// Task state changes and output chunks, in order: what the events API streams.
inline std::string job_events(const std::string& job_id) { return "muster:job:{" + job_id + "}:events"; }
// Tasks waiting for one of the job's concurrency slots.
inline std::string job_slot_queue(const std::string& job_id) { return "muster:job:{" + job_id + "}:waiting"; }

// Per shard: tasks to dispatch, control requests for the master, and tasks
// parked until their agent comes online.
inline std::string dispatch_queue(const std::string& shard) { return "muster:queue:{" + shard + "}"; }
inline std::string control_queue(const std::string& shard) { return "muster:control:{" + shard + "}"; }
inline std::string parked(const std::string& shard, const std::string& agent_id) {
  return "muster:parked:{" + shard + "}:" + agent_id;
}
// "<job>|<agent>" of parked tasks, scored by their job's delivery deadline.
inline std::string parked_deadlines(const std::string& shard) { return "muster:parked-deadlines:{" + shard + "}"; }
// "<job>|<agent>" of tasks sent and not finished, scored by when to look again:
// resend an unacknowledged task, or give up on a result that never came.
inline std::string inflight(const std::string& shard) { return "muster:inflight:{" + shard + "}"; }
inline std::string reply(const std::string& request_id) { return "muster:reply:" + request_id; }
// Shard ownership: the lease (holder token, short expiry) and its fencing counter.
inline std::string shard_lease(const std::string& shard) { return "muster:lease:{" + shard + "}"; }
inline std::string shard_fence(const std::string& shard) { return "muster:fence:{" + shard + "}"; }

inline constexpr const char* kMasterGroup = "masters";

}  // namespace muster::hub::keys
