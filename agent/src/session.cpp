#include "session.hpp"

#include <cstring>

#include "log.hpp"
#include "muster/proto/uuid.hpp"
#include "platform/facts.hpp"
#include "platform/fs.hpp"
#include "platform/process.hpp"
#include "version.hpp"

namespace muster::agent {
namespace {

constexpr const char* kResultIdPrefix = "result-";
constexpr const char* kPingIdPrefix = "ping-";

bool starts_with(const std::string& text, const char* prefix) {
  return text.compare(0, std::strlen(prefix), prefix) == 0;
}

}  // namespace

Session::Session(Connection& link, StatePaths paths, AgentState state, std::string task_user, TimeSource now)
    : link_(link),
      paths_(std::move(paths)),
      state_(std::move(state)),
      now_(std::move(now)),
      journal_(paths_.journal_file()),
      spool_(paths_.spool_dir()),
      runner_([this](const proto::OutputChunk& chunk) { send_output(chunk); },
              [this](const proto::TaskResult& result) { keep_result(result); }, std::move(task_user)) {}

proto::Status Session::open() {
  if (auto made = platform::make_private_dir(paths_.dir); !made) return made;
  auto verifier = proto::Verifier::from_pems(state_.enrollment.signing_keys);
  if (!verifier) return proto::Error{verifier.error().code, "pinned signing keys: " + verifier.error().message};
  verifier_ = std::move(*verifier);
  if (auto loaded = journal_.load(); !loaded) return loaded;
  if (auto loaded = spool_.load(); !loaded) return loaded;
  platform::adopt_orphans();
  report_interrupted_tasks();
  LOG_INFO("agent %s (%s), %zu unacknowledged result(s) in the spool", state_.enrollment.uuid.c_str(),
           kAgentVersion, spool_.entries().size());
  return proto::Ok{};
}

void Session::report_interrupted_tasks() {
  for (const auto& task : journal_.interrupted()) {
    if (spool_.contains(task.task_id) || !proto::is_uuid(task.job_id)) continue;
    // What is left of its process tree must not run on unnoticed.
    const bool killed = platform::end_leftover_tree(task.tree) == platform::Leftover::killed;
    LOG_WARN("task %s was interrupted by the last stop of this agent%s; reporting it failed", task.task_id.c_str(),
             killed ? " and its processes were still running: killed them" : "");
    report_unrun(task.task_id, task.job_id, proto::TaskOutcome::failed,
                 killed ? "interrupted: the agent stopped (crash or kill) while the task was running; its "
                          "processes ran on and were killed when the agent restarted; it is not run again"
                        : "interrupted: the agent stopped (crash, kill or power loss) while the task was "
                          "running; no process of it was left at the agent's restart; it is not run again",
                 task.started_at);
  }
}

void Session::on_connected() {
  connected_ = true;
  outstanding_ping_.clear();
  last_ping_sent_ = now_();
  announce();
}

void Session::on_disconnected() { connected_ = false; }

// Directed presence with facts, then every unacknowledged result: after each
// connect (new or resumed session) and whenever a (re)started master greets us.
void Session::announce() {
  proto::Facts facts = platform::collect_facts();
  facts.agent_version = kAgentVersion;
  facts.labels = state_.labels;
  link_.send_facts_presence(state_.enrollment.master_jid, proto::encode(facts));
  for (auto& [task_id, entry] : spool_.entries()) {
    if (!entry.acknowledged) send_result(task_id, entry);
  }
}

void Session::on_presence(const InboundPresence& presence) {
  if (presence.from == state_.enrollment.master_jid && presence.type.empty()) {
    LOG_INFO("master %s greeted us; announcing", state_.enrollment.master_jid.c_str());
    announce();
  }
}

void Session::on_iq(const InboundIq& iq) {
  const bool reply = iq.type == "result" || iq.type == "error";
  if (iq.type == "get" && iq.ping) {
    link_.send_iq_result(iq.id, iq.from);
  } else if (iq.type == "set") {
    handle_task(iq);
  } else if (reply && starts_with(iq.id, kResultIdPrefix)) {
    handle_result_reply(iq, iq.id.substr(std::strlen(kResultIdPrefix)));
  } else if (reply && iq.id == outstanding_ping_) {
    outstanding_ping_.clear();
  } else if (iq.type == "get") {
    link_.send_iq_error(iq.id, iq.from, "cancel", "service-unavailable", "not supported by muster-agent");
  }
}

void Session::handle_task(const InboundIq& iq) {
  if (iq.from != state_.enrollment.master_jid) {
    LOG_WARN("refused a request from %s: only %s may send tasks", iq.from.c_str(),
             state_.enrollment.master_jid.c_str());
    link_.send_iq_error(iq.id, iq.from, "auth", "not-authorized", "tasks are accepted only from this agent's master");
    return;
  }
  if (iq.cancel) {
    handle_cancel(iq);
    return;
  }
  if (!iq.task) {
    link_.send_iq_error(iq.id, iq.from, "cancel", "feature-not-implemented", "unknown request");
    return;
  }
  auto task = proto::decode_task(*iq.task);
  if (!task) {
    LOG_WARN("refused a malformed task: %s", task.error().message.c_str());
    link_.send_iq_error(iq.id, iq.from, "modify", "bad-request", task.error().message);
    return;
  }
  if (auto verified = proto::verify_task(*task, state_.enrollment.uuid, *verifier_, unix_now()); !verified) {
    LOG_WARN("refused task %s from %s: %s", task->task_id.c_str(), iq.from.c_str(), verified.error().message.c_str());
    link_.send_iq_error(iq.id, iq.from, "auth", "not-authorized", verified.error().message);
    return;
  }
  if (journal_.contains(task->task_id)) {
    // Delivery is at-least-once; execution is at-most-once. Acknowledge again,
    // and resend the result if the master may have missed it.
    LOG_INFO("task %s already started once; not running it again", task->task_id.c_str());
    link_.send_iq_result(iq.id, iq.from);
    auto it = spool_.entries().find(task->task_id);
    if (it != spool_.entries().end()) send_result(it->first, it->second);
    return;
  }
  start_task(*task, iq);
}

void Session::start_task(const proto::Task& task, const InboundIq& iq) {
  if (auto recorded = journal_.record_start(task.task_id, task.job_id); !recorded) {
    LOG_ERROR("cannot journal task %s: %s", task.task_id.c_str(), recorded.error().message.c_str());
    link_.send_iq_error(iq.id, iq.from, "wait", "internal-server-error", "cannot record the task on disk");
    return;
  }
  pending_acks_[task.task_id] = PendingAck{iq.id, iq.from, now_() + kCombineWindow};
  runner_.start(task);
  if (runner_.running(task.task_id)) {
    if (auto noted = journal_.record_tree(task.task_id, runner_.tree_record(task.task_id), unix_now()); !noted) {
      LOG_WARN("cannot journal the process tree of task %s: %s", task.task_id.c_str(), noted.error().message.c_str());
    }
  }
}

void Session::handle_cancel(const InboundIq& iq) {
  auto cancel = proto::decode_cancel(*iq.cancel);
  if (!cancel) {
    link_.send_iq_error(iq.id, iq.from, "modify", "bad-request", cancel.error().message);
    return;
  }
  if (runner_.cancel(cancel->task_id)) {
    LOG_INFO("task %s cancelled; killing its process tree", cancel->task_id.c_str());
  } else if (!journal_.contains(cancel->task_id)) {
    // Not arrived yet: journal it so it never runs, and report it cancelled.
    if (auto recorded = journal_.record_start(cancel->task_id, cancel->job_id); !recorded) {
      link_.send_iq_error(iq.id, iq.from, "wait", "internal-server-error", "cannot record the cancel on disk");
      return;
    }
    report_unrun(cancel->task_id, cancel->job_id, proto::TaskOutcome::cancelled,
                 "cancelled before it reached the agent; never run");
  }
  link_.send_iq_result(iq.id, iq.from);
}

void Session::handle_result_reply(const InboundIq& iq, const std::string& task_id) {
  if (iq.from != state_.enrollment.master_jid) return;  // only the master may release a result
  if (iq.type == "result") {
    LOG_DEBUG("result of task %s acknowledged", task_id.c_str());
    spool_.settle(task_id);
    auto it = spool_.entries().find(task_id);
    if (it != spool_.entries().end()) it->second.last_sent = now_();
  } else {
    LOG_WARN("result of task %s not accepted (%s); kept for resend", task_id.c_str(), iq.error.c_str());
  }
}

// A result for a task that did not run to its end here: interrupted by a
// crash, or cancelled before it arrived.
void Session::report_unrun(const std::string& task_id, const std::string& job_id, proto::TaskOutcome state,
                           const std::string& why, double started_at) {
  proto::TaskResult result;
  result.task_id = task_id;
  result.job_id = job_id;
  result.state = state;
  result.error = why;
  result.finished_at = unix_now();
  result.started_at = started_at > 0 && started_at <= result.finished_at ? started_at : result.finished_at;
  result.duration_ms = static_cast<std::int64_t>((result.finished_at - result.started_at) * 1000);
  keep_result(result);
}

void Session::keep_result(const proto::TaskResult& result) {
  if (auto put = spool_.put(result); !put) {
    LOG_ERROR("cannot spool result of task %s: %s", result.task_id.c_str(), put.error().message.c_str());
    return;
  }
  if (auto done = journal_.record_done(result.task_id); !done) {
    LOG_WARN("cannot journal the end of task %s: %s", result.task_id.c_str(), done.error().message.c_str());
  }
  auto& entry = spool_.entries().at(result.task_id);
  auto pending = pending_acks_.find(result.task_id);
  if (pending != pending_acks_.end()) {
    if (connected_) {
      link_.send_payload_iq("result", pending->second.iq_id, pending->second.from, proto::kResultElement,
                            entry.payload);
      entry.answered_with_task = true;
      entry.last_sent = now_();
    }
    pending_acks_.erase(pending);
    return;
  }
  if (connected_) send_result(result.task_id, entry);
}

void Session::send_output(const proto::OutputChunk& chunk) {
  if (!connected_) return;  // live output is best effort; the result carries it all
  link_.send_payload_message(state_.enrollment.master_jid, proto::kOutputElement, proto::encode(chunk));
}

void Session::send_result(const std::string& task_id, Spool::Entry& entry) {
  link_.send_payload_iq("set", kResultIdPrefix + task_id, state_.enrollment.master_jid, proto::kResultElement,
                        entry.payload);
  entry.last_sent = now_();
  entry.answered_with_task = false;  // now it waits for the master's ack
  entry.acknowledged = false;
}

void Session::tick() {
  runner_.pump();
  acknowledge_late_tasks(now_());
  resend_stale_results(now_());
  send_ping_to_server(now_());
}

void Session::acknowledge_late_tasks(Clock::time_point now) {
  for (auto it = pending_acks_.begin(); it != pending_acks_.end();) {
    if (now < it->second.deadline && connected_) {
      ++it;
      continue;
    }
    if (connected_) link_.send_iq_result(it->second.iq_id, it->second.from);
    it = pending_acks_.erase(it);
  }
}

void Session::resend_stale_results(Clock::time_point now) {
  if (!connected_ || now - last_resend_scan_ < std::chrono::seconds(1)) return;
  last_resend_scan_ = now;
  std::vector<std::string> expired;
  for (auto& [task_id, entry] : spool_.entries()) {
    if (entry.acknowledged) {
      if (now - entry.last_sent >= kKeepAcknowledged) expired.push_back(task_id);
    } else if (entry.answered_with_task) {
      if (now - entry.last_sent >= kKeepAnswered) expired.push_back(task_id);
    } else if (now - entry.last_sent >= kResendAfter) {
      send_result(task_id, entry);
    }
  }
  for (const auto& task_id : expired) spool_.acknowledge(task_id);
}

void Session::send_ping_to_server(Clock::time_point now) {
  if (!connected_ || now - last_ping_sent_ < kPingInterval) return;
  if (!outstanding_ping_.empty()) {
    // The previous ping went unanswered for a whole interval: the link is
    // dead even if TCP has not noticed. Reconnect (and resume).
    LOG_WARN("server did not answer a ping in %lld s; reconnecting",
             static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kPingInterval).count()));
    outstanding_ping_.clear();
    link_.disconnect();
    return;
  }
  outstanding_ping_ = kPingIdPrefix + std::to_string(++ping_counter_);
  link_.send_ping(outstanding_ping_, state_.enrollment.xmpp_domain);
  last_ping_sent_ = now;
}

void Session::stop() {
  runner_.abort_all("the agent was stopped while the task was running");
  if (connected_) link_.send_unavailable_presence(state_.enrollment.master_jid);
}

}  // namespace muster::agent
