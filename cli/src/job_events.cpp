#include "job_events.hpp"

#include <chrono>
#include <thread>

#include "errors.hpp"

namespace muster::cli {
namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kGiveUp = std::chrono::minutes(5);
constexpr auto kMaxBackoff = std::chrono::seconds(8);

// Waits `delay`, ticking and watching for Ctrl-C; false if interrupted.
bool pause(Clock::duration delay, const FollowHandlers& h, const std::function<bool()>& interrupted) {
  const auto until = Clock::now() + delay;
  while (Clock::now() < until) {
    if (interrupted()) return false;
    if (h.tick) h.tick();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return !interrupted();
}

}  // namespace

bool decode_job_event(const SseEvent& event, JobEvent& out) {
  auto root = proto::parse_object(event.data);
  if (!root) return false;
  JobEvent e;
  proto::FieldReader r(root->get(), event.type);
  if (event.type == "state") {
    e.kind = JobEvent::Kind::state;
    r.required("agent_id", e.agent_id, 64).required("state", e.state, 32);
  } else if (event.type == "output") {
    e.kind = JobEvent::Kind::output;
    r.required("agent_id", e.agent_id, 64).required("stream", e.stream, 16).optional("seq", e.seq, 0, INT64_MAX);
    r.required("data", e.data, std::size_t{4} << 20);
  } else if (event.type == "job") {
    e.kind = JobEvent::Kind::job;
    r.required("state", e.state, 32);
  }
  if (!r.ok()) return false;
  out = std::move(e);
  return true;
}

FollowEnd follow_job(ApiClient& api, const std::string& job_id, const FollowHandlers& h,
                     const std::function<bool()>& interrupted, std::string& last_id) {
  bool finished = false;
  auto backoff = std::chrono::milliseconds(250);
  auto last_contact = Clock::now();
  while (!finished) {
    SseParser parser([&](const SseEvent& sse) {
      last_contact = Clock::now();
      backoff = std::chrono::milliseconds(250);
      if (!sse.id.empty()) last_id = sse.id;
      JobEvent event;
      if (!decode_job_event(sse, event)) return true;  // a newer hub's event: skip it
      h.event(event);
      finished = event.kind == JobEvent::Kind::job;
      return !finished;
    });
    std::string why;
    try {
      const auto response = api.stream({"/api/v1/jobs/" + job_id + "/events", last_id,
                                       [&](std::string_view data) { return parser.feed(data); },
                                       [&] {
                                         if (h.tick) h.tick();
                                         return !interrupted();
                                       }});
      if (finished) break;
      if (interrupted()) return FollowEnd::interrupted;
      why = response.failure == proto::HttpFailure::none ? "the event stream ended"
                                                          : describe_failure(api.profile(), response);
    } catch (const ApiError& e) {
      if (e.code() == "invalid_field" && !last_id.empty()) {
        last_id.clear();  // the hub no longer holds the events before our position: start over
      } else if (e.status() < 500 && e.status() != 429) {
        throw;  // a refusal, not a passing state of the hub
      }
      why = e.what();
    }
    if (Clock::now() - last_contact > kGiveUp) {
      throw CliError(kExitUnreachable, why + "; gave up following job " + job_id +
                                           " (it keeps running: muster job " + job_id + ")");
    }
    if (h.reconnecting) h.reconnecting(why);
    if (!pause(backoff, h, interrupted)) return FollowEnd::interrupted;
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
  }
  return FollowEnd::finished;
}

}  // namespace muster::cli
