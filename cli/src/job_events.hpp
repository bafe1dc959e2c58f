#pragma once
// The events of GET /api/v1/jobs/{id}/events (docs/api.md) decoded, and a
// follower that reads them to the job's end across reconnects.
#include <cstdint>
#include <functional>
#include <string>

#include "api_client.hpp"
#include "sse.hpp"

namespace muster::cli {

struct JobEvent {
  enum class Kind { state, output, job, other } kind = Kind::other;
  std::string agent_id;
  std::string state;   // state: the task's; job: the job's final state
  std::string stream;  // output: "stdout" or "stderr"
  std::int64_t seq = 0;
  std::string data;
};

// Decodes one server-sent event; false if its data is not the documented shape.
bool decode_job_event(const SseEvent& event, JobEvent& out);

struct FollowHandlers {
  std::function<void(const JobEvent&)> event;
  std::function<void(const std::string& why)> reconnecting;
  std::function<void()> tick;  // about every second while waiting, and after each event
};

enum class FollowEnd { finished, interrupted };

// Reads the job's events until its final "job" event. A dropped stream is
// reopened with Last-Event-ID, so nothing is missed or repeated; if the hub
// no longer holds that position the stream restarts from the beginning
// (handlers see some events twice and must not mind). An answer of 5xx or
// 429 is waited out like a dropped connection. Gives up with
// CliError(kExitUnreachable) after kGiveUpSeconds without a connection.
// `interrupted` is polled: when it turns true, returns interrupted.
// `position` is the id of the last event handled ("" for the start); it is
// kept up to date, so a later call resumes after it.
FollowEnd follow_job(ApiClient& api, const std::string& job_id, const FollowHandlers& handlers,
                     const std::function<bool()>& interrupted, std::string& position);

}  // namespace muster::cli
