#include "agent.hpp"

#include <cstring>
#include <random>

#include "log.hpp"
#include "muster/proto/uuid.hpp"
#include "muster/proto/stanza.hpp"
#include "platform/facts.hpp"
#include "platform/fs.hpp"
#include "platform/net.hpp"
#include "version.hpp"

namespace muster::agent {
namespace {

constexpr auto kResendAfter = std::chrono::seconds(30);
// How long a task iq waits for its task to end so that the answer carries the
// result (one stanza each way instead of two): quick commands cost half the
// XMPP traffic. Far below the master's wait for an ack.
constexpr auto kCombineWindow = std::chrono::milliseconds(50);
// A result sent with its task's answer is kept this long, unsent, in case the
// master missed it and sends the task again (it does within a minute).
constexpr auto kKeepAnswered = std::chrono::minutes(10);
constexpr auto kKeepAcknowledged = std::chrono::minutes(2);
constexpr auto kPingInterval = std::chrono::seconds(60);
constexpr int kMaxBackoffSeconds = 60;
constexpr const char* kResultIdPrefix = "result-";
constexpr const char* kPingIdPrefix = "ping-";
constexpr const char* kPingNs = "urn:xmpp:ping";

// Exponential backoff capped at a minute, with jitter so a fleet that lost
// its server does not come back in lock step.
std::chrono::milliseconds backoff_delay(int failed_attempts) {
  static std::mt19937 rng(std::random_device{}());
  const int exponent = std::min(failed_attempts, 6);
  const int cap_ms = std::min(1000 << exponent, kMaxBackoffSeconds * 1000);
  std::uniform_int_distribution<int> jitter(cap_ms / 2, cap_ms);
  return std::chrono::milliseconds(jitter(rng));
}

void strophe_log(void*, xmpp_log_level_t level, const char* area, const char* message) {
  const LogLevel ours = level == XMPP_LEVEL_ERROR ? LogLevel::warn : LogLevel::debug;
  MUSTER_LOG(ours, "xmpp %s: %s", area, message);
}

bool starts_with(const std::string& text, const char* prefix) {
  return text.compare(0, std::strlen(prefix), prefix) == 0;
}

}  // namespace

xmpp_log_t* strophe_logger() {
  static xmpp_log_t logger = {strophe_log, nullptr};
  return &logger;
}

Agent::Agent(StatePaths paths, AgentState state, std::string task_user, xmpp_ctx_t* shared_ctx)
    : paths_(std::move(paths)),
      state_(std::move(state)),
      journal_(paths_.journal_file()),
      spool_(paths_.spool_dir()),
      runner_(
          [this](const proto::OutputChunk& chunk) {
            if (!connected_) return;  // live output is best effort; the result carries it all
            auto message = proto::make_payload_message(ctx_, state_.enrollment.master_jid, proto::kOutputElement,
                                                       proto::encode(chunk));
            xmpp_send(conn_, message.get());
          },
          [this](const proto::TaskResult& result) { keep_result(result); }, std::move(task_user)),
      ctx_(shared_ctx),
      owns_ctx_(shared_ctx == nullptr) {}

void Agent::keep_result(const proto::TaskResult& result) {
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
      auto answer = proto::make_payload_iq(ctx_, "result", pending->second.iq_id, pending->second.from,
                                           proto::kResultElement, entry.payload);
      xmpp_send(conn_, answer.get());
      entry.answered_with_task = true;
      entry.last_sent = Clock::now();
    }
    pending_acks_.erase(pending);
    return;
  }
  if (connected_) send_result(result.task_id, entry);
}

void Agent::acknowledge_late_tasks(Clock::time_point now) {
  for (auto it = pending_acks_.begin(); it != pending_acks_.end();) {
    if (now < it->second.deadline && connected_) {
      ++it;
      continue;
    }
    if (connected_) {
      auto ack = proto::make_iq_result(ctx_, it->second.iq_id, it->second.from);
      xmpp_send(conn_, ack.get());
    }
    it = pending_acks_.erase(it);
  }
}

// A result for a task that did not run to its end here: interrupted by a
// crash, or cancelled before it arrived.
void Agent::report_unrun(const std::string& task_id, const std::string& job_id, proto::TaskOutcome state,
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

Agent::~Agent() {
  if (conn_ != nullptr) xmpp_conn_release(conn_);
  if (owns_ctx_ && ctx_ != nullptr) {
    xmpp_ctx_free(ctx_);
    xmpp_shutdown();
  }
}

proto::Status Agent::open() {
  if (auto made = platform::make_private_dir(paths_.dir); !made) return made;
  auto verifier = proto::Verifier::from_pems(state_.enrollment.signing_keys);
  if (!verifier) return proto::Error{verifier.error().code, "pinned signing keys: " + verifier.error().message};
  verifier_ = std::move(*verifier);
  if (auto loaded = journal_.load(); !loaded) return loaded;
  if (auto loaded = spool_.load(); !loaded) return loaded;
  platform::adopt_orphans();
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

  if (owns_ctx_) {
    xmpp_initialize();
    ctx_ = xmpp_ctx_new(nullptr, strophe_logger());
  }
  conn_ = xmpp_conn_new(ctx_);
  xmpp_conn_set_flags(conn_, XMPP_CONN_FLAG_MANDATORY_TLS);
  xmpp_conn_set_cafile(conn_, paths_.xmpp_ca_file().c_str());
  const std::string full_jid = state_.enrollment.jid + "/" + proto::kAgentResource;
  xmpp_conn_set_jid(conn_, full_jid.c_str());
  xmpp_conn_set_pass(conn_, state_.enrollment.password.c_str());
  xmpp_conn_set_sockopt_callback(conn_, platform::configure_xmpp_socket);
  xmpp_handler_add(conn_, on_iq, nullptr, "iq", nullptr, this);
  xmpp_handler_add(conn_, on_presence, nullptr, "presence", nullptr, this);
  LOG_INFO("agent %s (%s), %zu unacknowledged result(s) in the spool", state_.enrollment.uuid.c_str(),
           kAgentVersion, spool_.entries().size());
  return proto::Ok{};
}

void Agent::connect() {
  connecting_ = true;
  const auto port = static_cast<unsigned short>(state_.enrollment.xmpp_port);
  LOG_INFO("connecting to %s:%u as %s", state_.enrollment.xmpp_host.c_str(), port, state_.enrollment.jid.c_str());
  if (xmpp_connect_client(conn_, state_.enrollment.xmpp_host.c_str(), port, on_connection_event, this) !=
      XMPP_EOK) {
    handle_disconnected(-1);
  }
}

void Agent::on_connection_event(xmpp_conn_t*, xmpp_conn_event_t event, int error, xmpp_stream_error_t*,
                                void* self) {
  auto* agent = static_cast<Agent*>(self);
  if (event == XMPP_CONN_CONNECT) {
    agent->handle_connected();
  } else if (event == XMPP_CONN_DISCONNECT || event == XMPP_CONN_FAIL) {
    agent->handle_disconnected(error);
  }
}

void Agent::handle_connected() {
  connected_ = true;
  connecting_ = false;
  failed_attempts_ = 0;
  outstanding_ping_.clear();
  last_ping_sent_ = Clock::now();
  LOG_INFO("connected (TLS %s)", xmpp_conn_is_secured(conn_) ? "on" : "OFF");
  announce();
}

// Directed presence with facts, then every unacknowledged result: after each
// connect (new or resumed session) and whenever a (re)started master greets us.
void Agent::announce() {
  proto::Facts facts = platform::collect_facts();
  facts.agent_version = kAgentVersion;
  facts.labels = state_.labels;
  auto presence = proto::make_facts_presence(ctx_, state_.enrollment.master_jid, proto::encode(facts));
  xmpp_send(conn_, presence.get());
  for (auto& [task_id, entry] : spool_.entries()) {
    if (!entry.acknowledged) send_result(task_id, entry);
  }
}

void Agent::handle_disconnected(int error) {
  const bool was_connected = connected_;
  connected_ = false;
  connecting_ = false;
  if (!was_connected) ++failed_attempts_;
  if (stopping_) {
    LOG_INFO("disconnected");
    return;
  }
  const auto delay = backoff_delay(failed_attempts_);
  next_attempt_ = Clock::now() + delay;
  LOG_WARN("%s (error %d); next attempt in %lld ms", was_connected ? "disconnected" : "connection failed", error,
           static_cast<long long>(delay.count()));
}

bool Agent::from_master(xmpp_stanza_t* stanza) const {
  return proto::attribute(stanza, "from") == state_.enrollment.master_jid;
}

void Agent::refuse(const std::string& id, const std::string& to, const char* type, const char* condition,
                   const std::string& text) {
  auto error = proto::make_iq_error(ctx_, id, to, type, condition, text);
  xmpp_send(conn_, error.get());
}

int Agent::on_presence(xmpp_conn_t*, xmpp_stanza_t* stanza, void* self) {
  auto* agent = static_cast<Agent*>(self);
  if (agent->from_master(stanza) && proto::attribute(stanza, "type").empty()) {
    LOG_INFO("master %s greeted us; announcing", agent->state_.enrollment.master_jid.c_str());
    agent->announce();
  }
  return 1;
}

int Agent::on_iq(xmpp_conn_t*, xmpp_stanza_t* stanza, void* self) {
  auto* agent = static_cast<Agent*>(self);
  const std::string type = proto::attribute(stanza, "type");
  const std::string id = proto::attribute(stanza, "id");
  const std::string from = proto::attribute(stanza, "from");
  if (type == "get" && xmpp_stanza_get_child_by_name_and_ns(stanza, "ping", kPingNs) != nullptr) {
    auto pong = proto::make_iq_result(agent->ctx_, id, from);
    xmpp_send(agent->conn_, pong.get());
  } else if (type == "set") {
    agent->handle_task(stanza, id);
  } else if ((type == "result" || type == "error") && starts_with(id, kResultIdPrefix)) {
    agent->handle_result_reply(stanza, id.substr(std::strlen(kResultIdPrefix)), type == "result");
  } else if ((type == "result" || type == "error") && id == agent->outstanding_ping_) {
    agent->outstanding_ping_.clear();
  } else if (type == "get") {
    agent->refuse(id, from, "cancel", "service-unavailable", "not supported by muster-agent");
  }
  return 1;
}

void Agent::handle_task(xmpp_stanza_t* iq, const std::string& id) {
  const std::string from = proto::attribute(iq, "from");
  if (!from_master(iq)) {
    LOG_WARN("refused a request from %s: only %s may send tasks", from.c_str(),
             state_.enrollment.master_jid.c_str());
    refuse(id, from, "auth", "not-authorized", "tasks are accepted only from this agent's master");
    return;
  }
  if (auto cancel = proto::payload_text(iq, proto::kCancelElement)) {
    handle_cancel(iq, id, *cancel);
    return;
  }
  auto text = proto::payload_text(iq, proto::kTaskElement);
  if (!text) {
    refuse(id, from, "cancel", "feature-not-implemented", "unknown request");
    return;
  }
  auto task = proto::decode_task(*text);
  if (!task) {
    LOG_WARN("refused a malformed task: %s", task.error().message.c_str());
    refuse(id, from, "modify", "bad-request", task.error().message);
    return;
  }
  if (auto verified = proto::verify_task(*task, state_.enrollment.uuid, *verifier_, unix_now()); !verified) {
    LOG_WARN("refused task %s from %s: %s", task->task_id.c_str(), from.c_str(), verified.error().message.c_str());
    refuse(id, from, "auth", "not-authorized", verified.error().message);
    return;
  }
  if (journal_.contains(task->task_id)) {
    // Delivery is at-least-once; execution is at-most-once. Acknowledge again,
    // and resend the result if the master may have missed it.
    LOG_INFO("task %s already started once; not running it again", task->task_id.c_str());
    auto ack = proto::make_iq_result(ctx_, id, from);
    xmpp_send(conn_, ack.get());
    auto it = spool_.entries().find(task->task_id);
    if (it != spool_.entries().end()) send_result(it->first, it->second);
    return;
  }
  if (auto recorded = journal_.record_start(task->task_id, task->job_id); !recorded) {
    LOG_ERROR("cannot journal task %s: %s", task->task_id.c_str(), recorded.error().message.c_str());
    refuse(id, from, "wait", "internal-server-error", "cannot record the task on disk");
    return;
  }
  pending_acks_[task->task_id] = PendingAck{id, from, Clock::now() + kCombineWindow};
  runner_.start(*task);
  if (runner_.running(task->task_id)) {
    if (auto noted = journal_.record_tree(task->task_id, runner_.tree_record(task->task_id), unix_now()); !noted) {
      LOG_WARN("cannot journal the process tree of task %s: %s", task->task_id.c_str(),
               noted.error().message.c_str());
    }
  }
}

void Agent::handle_cancel(xmpp_stanza_t* iq, const std::string& id, const std::string& payload) {
  const std::string from = proto::attribute(iq, "from");
  auto cancel = proto::decode_cancel(payload);
  if (!cancel) {
    refuse(id, from, "modify", "bad-request", cancel.error().message);
    return;
  }
  if (runner_.cancel(cancel->task_id)) {
    LOG_INFO("task %s cancelled; killing its process tree", cancel->task_id.c_str());
  } else if (!journal_.contains(cancel->task_id)) {
    // Not arrived yet: journal it so it never runs, and report it cancelled.
    if (auto recorded = journal_.record_start(cancel->task_id, cancel->job_id); !recorded) {
      refuse(id, from, "wait", "internal-server-error", "cannot record the cancel on disk");
      return;
    }
    report_unrun(cancel->task_id, cancel->job_id, proto::TaskOutcome::cancelled,
                 "cancelled before it reached the agent; never run");
  }
  auto ack = proto::make_iq_result(ctx_, id, from);
  xmpp_send(conn_, ack.get());
}

void Agent::handle_result_reply(xmpp_stanza_t* iq, const std::string& task_id, bool acknowledged) {
  if (!from_master(iq)) return;  // only the master may release a result
  if (acknowledged) {
    LOG_DEBUG("result of task %s acknowledged", task_id.c_str());
    spool_.settle(task_id);
    auto it = spool_.entries().find(task_id);
    if (it != spool_.entries().end()) it->second.last_sent = Clock::now();
  } else {
    LOG_WARN("result of task %s not accepted (%s); kept for resend", task_id.c_str(),
             proto::error_description(iq).c_str());
  }
}

void Agent::send_result(const std::string& task_id, Spool::Entry& entry) {
  auto iq = proto::make_payload_iq(ctx_, "set", kResultIdPrefix + task_id, state_.enrollment.master_jid,
                                   proto::kResultElement, entry.payload);
  xmpp_send(conn_, iq.get());
  entry.last_sent = Clock::now();
  entry.answered_with_task = false;  // now it waits for the master's ack
  entry.acknowledged = false;
}

void Agent::resend_stale_results(Clock::time_point now) {
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

void Agent::send_ping_to_server(Clock::time_point now) {
  if (!connected_ || now - last_ping_sent_ < kPingInterval) return;
  if (!outstanding_ping_.empty()) {
    // The previous ping went unanswered for a whole interval: the link is
    // dead even if TCP has not noticed. Reconnect (and resume).
    LOG_WARN("server did not answer a ping in %lld s; reconnecting",
             static_cast<long long>(std::chrono::duration_cast<std::chrono::seconds>(kPingInterval).count()));
    outstanding_ping_.clear();
    xmpp_disconnect(conn_);
    return;
  }
  outstanding_ping_ = kPingIdPrefix + std::to_string(++ping_counter_);
  xmpp_stanza_t* iq = xmpp_iq_new(ctx_, "get", outstanding_ping_.c_str());
  xmpp_stanza_set_to(iq, state_.enrollment.xmpp_domain.c_str());
  xmpp_stanza_t* ping = xmpp_stanza_new(ctx_);
  xmpp_stanza_set_name(ping, "ping");
  xmpp_stanza_set_ns(ping, kPingNs);
  xmpp_stanza_add_child(iq, ping);
  xmpp_stanza_release(ping);
  xmpp_send(conn_, iq);
  xmpp_stanza_release(iq);
  last_ping_sent_ = now;
}

void Agent::step() {
  if (stopping_) return;
  const auto now = Clock::now();
  if (!connected_ && !connecting_ && now >= next_attempt_) connect();
  runner_.pump();
  acknowledge_late_tasks(Clock::now());
  resend_stale_results(Clock::now());
  send_ping_to_server(Clock::now());
}

void Agent::run(const volatile std::sig_atomic_t* stop) {
  while (*stop == 0) {
    // Short waits only while tasks run; an idle agent wakes once a second.
    xmpp_run_once(ctx_, poll_timeout_ms());
    step();
  }
  request_stop();
  const auto deadline = Clock::now() + std::chrono::seconds(3);
  while (!stopped() && Clock::now() < deadline) xmpp_run_once(ctx_, 50);
}

void Agent::request_stop() {
  if (stopping_) return;
  stopping_ = true;
  LOG_INFO("stopping");
  runner_.abort_all("the agent was stopped while the task was running");
  if (connected_) {
    xmpp_stanza_t* presence = xmpp_presence_new(ctx_);
    xmpp_stanza_set_type(presence, "unavailable");
    xmpp_stanza_set_to(presence, state_.enrollment.master_jid.c_str());
    xmpp_send(conn_, presence);
    xmpp_stanza_release(presence);
    xmpp_disconnect(conn_);
  } else if (connecting_) {
    xmpp_disconnect(conn_);
  }
}

}  // namespace muster::agent
