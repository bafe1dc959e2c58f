#include "watch.hpp"

#include "display.hpp"
#include "errors.hpp"
#include "job_events.hpp"
#include "run_view.hpp"
#include "terminal.hpp"

namespace muster::cli {
namespace {

// Asks the hub to cancel; false if the job had already finished.
bool cancel_job(ApiClient& api, const std::string& job_id) {
  try {
    api.call("POST", "/api/v1/jobs/" + job_id + "/cancel");
  } catch (const ApiError& e) {
    if (e.code() == "conflict") return false;
    throw;
  }
  return true;
}

struct Follow {
  Invocation& in;
  RunView& view;
  std::string job_id;
  std::string position;  // the last event seen, so a resumed follow repeats nothing
};

// Follows until the job ends (returns kExitOk) or the user leaves it running
// (returns kExitDetached). The first Ctrl-C asks whether to cancel (or
// cancels, with --cancel-on-interrupt); after a cancel, Ctrl-C stops waiting.
int follow_to_end(Follow& f) {
  bool cancel_sent = false;
  FollowHandlers handlers{[&](const JobEvent& e) { f.view.event(e); },
                          [&](const std::string& why) { f.view.note(why + "; reconnecting"); },
                          [&] { f.view.tick(); }};
  while (follow_job(f.in.api(), f.job_id, handlers, interrupted, f.position) == FollowEnd::interrupted) {
    clear_interrupted();
    const std::string leave = "job " + f.job_id + " keeps running; follow it again with: muster job " + f.job_id +
                              " --follow";
    if (cancel_sent) {
      f.view.note(leave);
      return kExitDetached;
    }
    f.view.hold();
    const bool cancel = f.in.options().has("--cancel-on-interrupt") || ask_yes_no("Cancel job " + f.job_id + "?");
    if (!cancel) {
      f.view.note(leave);
      return kExitDetached;
    }
    cancel_sent = true;
    if (cancel_job(f.in.api(), f.job_id)) {
      f.view.note("cancelling job " + f.job_id + ": running tasks are being killed (Ctrl-C again: stop waiting)");
    }
  }
  return kExitOk;
}

}  // namespace

int watch_job(Invocation& in, const std::string& job_id, std::size_t total, const Hostnames& names) {
  const ShowTasks show = chosen_show(in.options());
  install_interrupt_flag();
  const ViewMode mode = in.json() ? ViewMode::json : stdout_is_terminal() ? ViewMode::terminal : ViewMode::plain;
  // People read "web-1/0f8fad5b" where host names repeat; programs get the host name as it is.
  RunView view(mode, mode == ViewMode::json ? names : display_names(names), total);
  view.show(show);
  view.submitted(job_id);

  Follow follow{in, view, job_id, ""};
  if (const int detached = follow_to_end(follow); detached != kExitOk) return detached;
  auto job = in.api().call("GET", "/api/v1/jobs/" + job_id);
  if (mode == ViewMode::json) for_each_task(in.api(), job_id, [&view](cJSON* task) { view.result(task); });
  view.finish(job.get());
  const std::string state = field_text(job.get(), "state");
  return state == "succeeded" ? kExitOk : state == "cancelled" ? kExitCancelled : kExitTasksFailed;
}

}  // namespace muster::cli
