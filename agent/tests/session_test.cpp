#include "session.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/signing.hpp"
#include "muster/proto/uuid.hpp"
#include "platform/process.hpp"

namespace proto = muster::proto;
namespace fs = std::filesystem;
using muster::agent::AgentState;
using muster::agent::Connection;
using muster::agent::InboundIq;
using muster::agent::InboundPresence;
using muster::agent::Session;
using muster::agent::StatePaths;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kDomain = "region.test";
constexpr const char* kMaster = "master.region.test";
constexpr const char* kIntruder = "intruder@region.test/x";
// Still running at the first tick after the test clock passed the combine
// window, however loaded the machine.
constexpr const char* kOutlastsTheWindow = "sleep 0.1";

// One stanza the session sent, as plain fields.
struct Sent {
  std::string kind;  // iq, message, presence, unavailable, ping
  std::string type;  // of an iq
  std::string id;
  std::string to;
  std::string element;
  std::string json;
  std::string condition;  // of an iq error
  std::string error_type;
};

class FakeConnection : public Connection {
 public:
  void send_payload_iq(const char* type, const std::string& id, const std::string& to, const char* element,
                       const std::string& json) override {
    sent.push_back({"iq", type, id, to, element, json, "", ""});
  }
  void send_payload_message(const std::string& to, const char* element, const std::string& json) override {
    sent.push_back({"message", "", "", to, element, json, "", ""});
  }
  void send_facts_presence(const std::string& to, const std::string& json) override {
    sent.push_back({"presence", "", "", to, proto::kFactsElement, json, "", ""});
  }
  void send_unavailable_presence(const std::string& to) override {
    sent.push_back({"unavailable", "", "", to, "", "", "", ""});
  }
  void send_iq_result(const std::string& id, const std::string& to) override {
    sent.push_back({"iq", "result", id, to, "", "", "", ""});
  }
  void send_iq_error(const std::string& id, const std::string& to, const char* error_type, const char* condition,
                     const std::string&) override {
    sent.push_back({"iq", "error", id, to, "", "", condition, error_type});
  }
  void send_ping(const std::string& id, const std::string& to) override {
    sent.push_back({"ping", "get", id, to, "", "", "", ""});
  }
  void disconnect() override { ++disconnects; }

  // Sent stanzas other than live output, which depends on process timing,
  // and pings to the server, which depend on how far a test moves the clock.
  std::vector<Sent> stanzas() const {
    std::vector<Sent> out;
    for (const auto& s : sent) {
      if (s.kind != "message" && s.kind != "ping") out.push_back(s);
    }
    return out;
  }

  std::vector<Sent> sent;
  int disconnects = 0;
};

proto::TaskResult result_in(const Sent& s) {
  auto result = proto::decode_task_result(s.json);
  EXPECT_TRUE(result.ok()) << s.json;
  return result.ok() ? *result : proto::TaskResult{};
}

bool is_ack(const Sent& s, const std::string& id) {
  return s.kind == "iq" && s.type == "result" && s.id == id && s.element.empty() && s.to == kMaster;
}

bool is_result_report(const Sent& s, const std::string& task_id) {
  return s.kind == "iq" && s.type == "set" && s.id == "result-" + task_id && s.to == kMaster &&
         s.element == proto::kResultElement;
}

bool is_refusal(const Sent& s, const std::string& id, const std::string& to, const char* condition) {
  return s.kind == "iq" && s.type == "error" && s.id == id && s.to == to && s.condition == condition;
}

class SessionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / ("muster-session-test-" + proto::new_uuid());
    ASSERT_TRUE(fs::create_directory(root_));
    auto signer = proto::Signer::load_or_create((root_ / "api-signing.pem").string());
    ASSERT_TRUE(signer.ok()) << signer.error().message;
    signer_ = std::move(*signer);
    AgentState state;
    state.enrollment.uuid = proto::new_uuid();
    state.enrollment.jid = state.enrollment.uuid + "@" + kDomain;
    state.enrollment.xmpp_domain = kDomain;
    state.enrollment.master_jid = kMaster;
    state.enrollment.signing_keys = {signer_->public_pem()};
    agent_id_ = state.enrollment.uuid;
    session_ = std::make_unique<Session>(link_, StatePaths((root_ / "state").string()), state, "",
                                         [this] { return now_; });
    auto opened = session_->open();
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    session_->on_connected();
    link_.sent.clear();
  }

  void TearDown() override {
    if (session_) session_->stop();
    session_.reset();
    muster::agent::platform::reap_orphans();
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // A task for `agent_id` (this agent unless given), signed as the api signs
  // jobs: one statement over a Merkle tree of (agent, task) leaves.
  proto::Task signed_task(const std::string& command, const std::string& agent_id = {}) {
    proto::Task task;
    task.task_id = proto::new_uuid();
    task.job_id = proto::new_uuid();
    task.command = command;
    task.timeout_s = 60;
    proto::MerkleTree tree({proto::task_leaf(agent_id.empty() ? agent_id_ : agent_id, task.task_id),
                            proto::task_leaf(proto::new_uuid(), proto::new_uuid())});
    proto::JobStatement statement{task.job_id, task.command, {}, task.timeout_s, task.output_quota,
                                  false, muster::agent::unix_now() + 3600, tree.root_hex()};
    const std::string text = proto::encode(statement);
    task.auth = proto::TaskAuth{signer_->key_id(), *signer_->sign_base64(text), text, tree.proof(0)};
    return task;
  }

  static InboundIq task_iq(const proto::Task& task, const std::string& id, const std::string& from = kMaster) {
    return InboundIq{"set", id, from, false, proto::encode(task), std::nullopt, ""};
  }

  static InboundIq cancel_iq(const proto::Task& task, const std::string& id) {
    const proto::CancelRequest cancel{task.task_id, task.job_id};
    return InboundIq{"set", id, kMaster, false, std::nullopt, proto::encode(cancel), ""};
  }

  static InboundIq result_ack(const proto::Task& task, const std::string& from = kMaster) {
    return InboundIq{"result", "result-" + task.task_id, from, false, std::nullopt, std::nullopt, ""};
  }

  // Ticks (on the frozen test clock) until `done` holds; false after 10 s.
  bool tick_until(const std::function<bool()>& done) {
    const auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (Clock::now() >= deadline) return false;
      session_->tick();
      ::usleep(2 * 1000);
    }
    return true;
  }

  bool sent(const std::function<bool(const Sent&)>& match) const {
    for (const auto& s : link_.sent) {
      if (match(s)) return true;
    }
    return false;
  }

  // Runs `task` (kOutlastsTheWindow) past the combine window, so it is
  // acknowledged first and its result goes out on its own.
  Sent run_to_separate_result(const proto::Task& task) {
    session_->on_iq(task_iq(task, "iq-run"));
    advance(Session::kCombineWindow + std::chrono::milliseconds(1));
    session_->tick();
    EXPECT_TRUE(tick_until([&] { return sent([&](const Sent& s) { return is_result_report(s, task.task_id); }); }));
    EXPECT_TRUE(sent([](const Sent& s) { return is_ack(s, "iq-run"); }));
    return link_.stanzas().back();
  }

  void advance(Clock::duration by) { now_ += by; }
  std::string file(const std::string& name) const { return (root_ / name).string(); }

  fs::path root_;
  std::unique_ptr<proto::Signer> signer_;
  std::string agent_id_;
  FakeConnection link_;
  Clock::time_point now_ = Clock::time_point(std::chrono::hours(1000));
  std::unique_ptr<Session> session_;
};

}  // namespace

// ---------------------------------------------------------------- who may send tasks

TEST_F(SessionTest, RefusesATaskFromAnyoneButItsMaster) {
  const auto task = signed_task("touch " + file("ran"));
  session_->on_iq(task_iq(task, "iq-1", kIntruder));
  ASSERT_EQ(link_.stanzas().size(), 1u);
  EXPECT_TRUE(is_refusal(link_.stanzas()[0], "iq-1", kIntruder, "not-authorized"));
  EXPECT_EQ(link_.stanzas()[0].error_type, "auth");
  EXPECT_FALSE(session_->busy());
  for (int i = 0; i < 20; ++i) session_->tick();
  EXPECT_FALSE(fs::exists(file("ran")));

  // Refused, not journaled: the master's copy of the task still runs.
  session_->on_iq(task_iq(task, "iq-2"));
  EXPECT_TRUE(tick_until([&] { return sent([](const Sent& s) { return s.id == "iq-2"; }); }));
  EXPECT_TRUE(fs::exists(file("ran")));
}

TEST_F(SessionTest, RefusesATaskWhoseSignedStatementWasTampered) {
  auto task = signed_task("true");
  const auto at = task.auth->statement.find("\"true\"");
  ASSERT_NE(at, std::string::npos) << task.auth->statement;
  task.auth->statement.replace(at, 6, "\"touch " + file("ran") + "\"");
  session_->on_iq(task_iq(task, "iq-1"));
  ASSERT_EQ(link_.stanzas().size(), 1u);
  EXPECT_TRUE(is_refusal(link_.stanzas()[0], "iq-1", kMaster, "not-authorized"));
  EXPECT_EQ(link_.stanzas()[0].error_type, "auth");
  EXPECT_FALSE(session_->busy());
  for (int i = 0; i < 20; ++i) session_->tick();
  EXPECT_FALSE(fs::exists(file("ran")));
}

TEST_F(SessionTest, RefusesATaskSignedForAnotherAgent) {
  session_->on_iq(task_iq(signed_task("true", proto::new_uuid()), "iq-1"));
  ASSERT_EQ(link_.stanzas().size(), 1u);
  EXPECT_TRUE(is_refusal(link_.stanzas()[0], "iq-1", kMaster, "not-authorized"));
  EXPECT_FALSE(session_->busy());
}

TEST_F(SessionTest, RefusesAMalformedTaskAndAnUnknownRequest) {
  InboundIq malformed = task_iq(signed_task("true"), "iq-1");
  malformed.task = "{\"v\": 1";
  session_->on_iq(malformed);
  InboundIq unknown = malformed;
  unknown.id = "iq-2";
  unknown.task.reset();
  session_->on_iq(unknown);
  ASSERT_EQ(link_.stanzas().size(), 2u);
  EXPECT_TRUE(is_refusal(link_.stanzas()[0], "iq-1", kMaster, "bad-request"));
  EXPECT_TRUE(is_refusal(link_.stanzas()[1], "iq-2", kMaster, "feature-not-implemented"));
}

// ---------------------------------------------------------------- answers and results

TEST_F(SessionTest, AnswersAQuickTaskWithItsResultInOneStanza) {
  const auto task = signed_task("echo hello");
  session_->on_iq(task_iq(task, "iq-1"));
  EXPECT_EQ(session_->poll_timeout_ms(), 1);  // waiting to combine
  ASSERT_TRUE(tick_until([&] { return !link_.stanzas().empty(); }));
  const auto stanzas = link_.stanzas();
  ASSERT_EQ(stanzas.size(), 1u);
  EXPECT_EQ(stanzas[0].type, "result");
  EXPECT_EQ(stanzas[0].id, "iq-1");
  EXPECT_EQ(stanzas[0].to, kMaster);
  EXPECT_EQ(stanzas[0].element, proto::kResultElement);
  const auto result = result_in(stanzas[0]);
  EXPECT_EQ(result.task_id, task.task_id);
  EXPECT_EQ(result.state, proto::TaskOutcome::succeeded);
  EXPECT_EQ(result.stdout_text, "hello\n");
}

TEST_F(SessionTest, AcknowledgesASlowTaskThenReportsItsResultOnItsOwn) {
  const auto task = signed_task("sleep 0.2; echo late");
  session_->on_iq(task_iq(task, "iq-1"));
  advance(Session::kCombineWindow + std::chrono::milliseconds(1));
  session_->tick();
  ASSERT_EQ(link_.stanzas().size(), 1u);
  EXPECT_TRUE(is_ack(link_.stanzas()[0], "iq-1"));
  ASSERT_TRUE(tick_until([&] { return link_.stanzas().size() == 2; }));
  ASSERT_TRUE(is_result_report(link_.stanzas()[1], task.task_id));
  EXPECT_EQ(result_in(link_.stanzas()[1]).stdout_text, "late\n");
}

TEST_F(SessionTest, RunsARepeatedTaskOnceAndAnswersItFromTheJournal) {
  const auto task = signed_task("echo ran >> " + file("runs"));
  session_->on_iq(task_iq(task, "iq-1"));
  ASSERT_TRUE(tick_until([&] { return !link_.stanzas().empty(); }));
  const std::string payload = link_.stanzas()[0].json;
  link_.sent.clear();

  session_->on_iq(task_iq(task, "iq-2"));
  EXPECT_FALSE(session_->busy());
  const auto stanzas = link_.stanzas();
  ASSERT_EQ(stanzas.size(), 2u);
  EXPECT_TRUE(is_ack(stanzas[0], "iq-2"));
  EXPECT_TRUE(is_result_report(stanzas[1], task.task_id));
  EXPECT_EQ(stanzas[1].json, payload);
  for (int i = 0; i < 20; ++i) session_->tick();
  EXPECT_EQ(fs::file_size(file("runs")), 4u);  // "ran\n" once
}

TEST_F(SessionTest, KeepsAnAcknowledgedResultInMemoryForAWhile) {
  const auto task = signed_task(kOutlastsTheWindow);
  const Sent report = run_to_separate_result(task);
  session_->on_iq(result_ack(task));
  EXPECT_TRUE(fs::is_empty(file("state/spool")));  // settled: off the disk
  link_.sent.clear();

  // A store that lost the result makes the master send the task again.
  session_->on_iq(task_iq(task, "iq-2"));
  ASSERT_EQ(link_.stanzas().size(), 2u);
  EXPECT_TRUE(is_ack(link_.stanzas()[0], "iq-2"));
  EXPECT_TRUE(is_result_report(link_.stanzas()[1], task.task_id));
  EXPECT_EQ(link_.stanzas()[1].json, report.json);

  session_->on_iq(result_ack(task));
  advance(Session::kKeepAcknowledged + std::chrono::seconds(1));
  session_->tick();
  link_.sent.clear();
  session_->on_iq(task_iq(task, "iq-3"));
  ASSERT_EQ(link_.stanzas().size(), 1u);  // forgotten: acknowledged only
  EXPECT_TRUE(is_ack(link_.stanzas()[0], "iq-3"));
}

// ---------------------------------------------------------------- resending

TEST_F(SessionTest, ResendsAnUnacknowledgedResultAfterTheResendInterval) {
  const auto task = signed_task(kOutlastsTheWindow);
  const Sent report = run_to_separate_result(task);
  link_.sent.clear();
  advance(Session::kResendAfter - std::chrono::seconds(2));
  session_->tick();
  EXPECT_TRUE(link_.stanzas().empty());
  advance(std::chrono::seconds(3));
  session_->tick();
  ASSERT_EQ(link_.stanzas().size(), 1u);
  EXPECT_TRUE(is_result_report(link_.stanzas()[0], task.task_id));
  EXPECT_EQ(link_.stanzas()[0].json, report.json);

  // Only the master may release a result.
  session_->on_iq(result_ack(task, kIntruder));
  link_.sent.clear();
  advance(Session::kResendAfter + std::chrono::seconds(1));
  session_->tick();
  ASSERT_EQ(link_.stanzas().size(), 1u);
  EXPECT_TRUE(is_result_report(link_.stanzas()[0], task.task_id));

  session_->on_iq(result_ack(task));
  link_.sent.clear();
  advance(Session::kResendAfter + std::chrono::seconds(1));
  session_->tick();
  EXPECT_TRUE(link_.stanzas().empty());
}

TEST_F(SessionTest, AResultSentWithItsTaskAnswerIsNotResent) {
  session_->on_iq(task_iq(signed_task("true"), "iq-1"));
  ASSERT_TRUE(tick_until([&] { return !link_.stanzas().empty(); }));
  link_.sent.clear();
  advance(Session::kResendAfter + std::chrono::seconds(1));
  session_->tick();
  EXPECT_TRUE(link_.stanzas().empty());
}

TEST_F(SessionTest, ResendsUnacknowledgedResultsAfterAReconnect) {
  const auto acknowledged = signed_task(kOutlastsTheWindow);
  run_to_separate_result(acknowledged);
  session_->on_iq(result_ack(acknowledged));

  const auto task = signed_task("sleep 0.2");
  session_->on_iq(task_iq(task, "iq-2"));
  session_->on_disconnected();
  link_.sent.clear();
  ASSERT_TRUE(tick_until([&] { return !session_->busy(); }));
  EXPECT_TRUE(link_.sent.empty());  // ended offline: nothing sent

  session_->on_connected();
  ASSERT_EQ(link_.stanzas().size(), 2u);
  EXPECT_EQ(link_.stanzas()[0].kind, "presence");
  EXPECT_EQ(link_.stanzas()[0].to, kMaster);
  EXPECT_TRUE(is_result_report(link_.stanzas()[1], task.task_id));
  EXPECT_EQ(result_in(link_.stanzas()[1]).state, proto::TaskOutcome::succeeded);

  // A (re)started master greets the agent: the same again.
  link_.sent.clear();
  session_->on_presence(InboundPresence{kMaster, ""});
  ASSERT_EQ(link_.stanzas().size(), 2u);
  EXPECT_TRUE(is_result_report(link_.stanzas()[1], task.task_id));
}

// ---------------------------------------------------------------- cancel

TEST_F(SessionTest, CancelKillsARunningTaskAndReportsItCancelled) {
  const auto task = signed_task("sleep 30");
  session_->on_iq(task_iq(task, "iq-1"));
  ASSERT_TRUE(session_->busy());
  session_->on_iq(cancel_iq(task, "iq-2"));
  EXPECT_TRUE(sent([](const Sent& s) { return is_ack(s, "iq-2"); }));
  ASSERT_TRUE(tick_until([&] { return !session_->busy(); }));
  const auto answer = link_.stanzas().back();
  EXPECT_EQ(answer.id, "iq-1");  // still inside the combine window
  EXPECT_EQ(result_in(answer).state, proto::TaskOutcome::cancelled);
}

TEST_F(SessionTest, CancelOfAnUnknownTaskReportsItCancelledAndItNeverRuns) {
  const auto task = signed_task("touch " + file("ran"));
  session_->on_iq(cancel_iq(task, "iq-1"));
  ASSERT_EQ(link_.stanzas().size(), 2u);
  EXPECT_TRUE(is_result_report(link_.stanzas()[0], task.task_id));
  const auto result = result_in(link_.stanzas()[0]);
  EXPECT_EQ(result.state, proto::TaskOutcome::cancelled);
  EXPECT_EQ(result.job_id, task.job_id);
  EXPECT_TRUE(is_ack(link_.stanzas()[1], "iq-1"));

  link_.sent.clear();
  session_->on_iq(task_iq(task, "iq-2"));  // arrives after its cancel
  EXPECT_FALSE(session_->busy());
  ASSERT_EQ(link_.stanzas().size(), 2u);
  EXPECT_TRUE(is_ack(link_.stanzas()[0], "iq-2"));
  EXPECT_EQ(result_in(link_.stanzas()[1]).state, proto::TaskOutcome::cancelled);
  for (int i = 0; i < 20; ++i) session_->tick();
  EXPECT_FALSE(fs::exists(file("ran")));
}

// ---------------------------------------------------------------- pings

TEST_F(SessionTest, AnswersPingsAndRefusesOtherQueries) {
  InboundIq ping{"get", "s-1", kDomain, true, {}, {}, ""};
  session_->on_iq(ping);
  InboundIq query{"get", "q-1", kMaster, false, {}, {}, ""};
  session_->on_iq(query);
  ASSERT_EQ(link_.stanzas().size(), 2u);
  EXPECT_EQ(link_.stanzas()[0].type, "result");
  EXPECT_EQ(link_.stanzas()[0].to, kDomain);
  EXPECT_TRUE(is_refusal(link_.stanzas()[1], "q-1", kMaster, "service-unavailable"));
}

TEST_F(SessionTest, PingsTheServerAndDropsALinkThatStoppedAnswering) {
  advance(Session::kPingInterval);
  session_->tick();
  ASSERT_EQ(link_.sent.size(), 1u);
  const Sent first = link_.sent[0];
  EXPECT_EQ(first.kind, "ping");
  EXPECT_EQ(first.to, kDomain);
  session_->on_iq(InboundIq{"result", first.id, kDomain, false, {}, {}, ""});

  advance(Session::kPingInterval);
  session_->tick();
  ASSERT_EQ(link_.sent.size(), 2u);
  EXPECT_NE(link_.sent[1].id, first.id);
  EXPECT_EQ(link_.disconnects, 0);

  advance(Session::kPingInterval);  // the second one went unanswered
  session_->tick();
  EXPECT_EQ(link_.sent.size(), 2u);
  EXPECT_EQ(link_.disconnects, 1);
}

TEST_F(SessionTest, StopAbortsRunningTasksAndSaysGoodbye) {
  const auto task = signed_task("sleep 30");
  session_->on_iq(task_iq(task, "iq-1"));
  session_->stop();
  EXPECT_FALSE(session_->busy());
  const auto stanzas = link_.stanzas();
  ASSERT_EQ(stanzas.size(), 2u);
  EXPECT_EQ(stanzas[0].id, "iq-1");
  EXPECT_EQ(result_in(stanzas[0]).state, proto::TaskOutcome::failed);
  EXPECT_EQ(stanzas[1].kind, "unavailable");
  EXPECT_EQ(stanzas[1].to, kMaster);
}
