#pragma once
// The agent's protocol: tasks accepted only from its master and only when
// signed, each run at most once, results kept until acknowledged. It hears
// the link through ConnectionEvents and answers through Connection only.
#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>

#include "connection.hpp"
#include "journal.hpp"
#include "muster/proto/signing.hpp"
#include "spool.hpp"
#include "state.hpp"
#include "task_runner.hpp"

namespace muster::agent {

class Session : public ConnectionEvents {
 public:
  using Clock = std::chrono::steady_clock;
  using TimeSource = std::function<Clock::time_point()>;

  static constexpr auto kResendAfter = std::chrono::seconds(30);
  // How long a task iq waits for its task to end so that the answer carries
  // the result (one stanza each way instead of two): quick commands cost half
  // the XMPP traffic. Far below the master's wait for an ack.
  static constexpr auto kCombineWindow = std::chrono::milliseconds(50);
  // A result sent with its task's answer is kept this long, unsent, in case
  // the master missed it and sends the task again (it does within a minute).
  static constexpr auto kKeepAnswered = std::chrono::minutes(10);
  static constexpr auto kKeepAcknowledged = std::chrono::minutes(2);
  static constexpr auto kPingInterval = std::chrono::seconds(60);

  // `task_user`: the account tasks run as when the agent runs as root.
  // `now`: the clock behind every interval above.
  Session(Connection& link, StatePaths paths, AgentState state, std::string task_user,
          TimeSource now = Clock::now);
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Loads journal and spool and reports tasks a previous run left unfinished;
  // fails if the state directory is unusable.
  proto::Status open();

  void on_connected() override;
  void on_disconnected() override;
  void on_iq(const InboundIq& iq) override;
  void on_presence(const InboundPresence& presence) override;

  // Reads task output, answers tasks that outgrew the combine window, resends
  // stale results and pings the server.
  void tick();
  // Aborts running tasks (their results are kept) and says goodbye.
  void stop();

  bool connected() const { return connected_; }
  bool busy() const { return runner_.active(); }
  // 1 ms while a task's answer waits to be combined with its result (quick
  // tasks end within a few ms, and every ms of polling is latency), 5 ms while
  // tasks run (their pipes are not in the link's poll set), else 1 s.
  int poll_timeout_ms() const { return !pending_acks_.empty() ? 1 : busy() ? 5 : 1000; }
  // Answers tasks with an immediate success instead of running them.
  void use_builtin_noop() { runner_.use_builtin_noop(); }

 private:
  void report_interrupted_tasks();
  void announce();
  void handle_task(const InboundIq& iq);
  void start_task(const proto::Task& task, const InboundIq& iq);
  void handle_cancel(const InboundIq& iq);
  void handle_result_reply(const InboundIq& iq, const std::string& task_id);
  // `started_at`: when it started, if it did (unix time; 0: it never ran).
  void report_unrun(const std::string& task_id, const std::string& job_id, proto::TaskOutcome state,
                    const std::string& why, double started_at = 0);
  void keep_result(const proto::TaskResult& result);
  void send_output(const proto::OutputChunk& chunk);
  void send_result(const std::string& task_id, Spool::Entry& entry);
  void acknowledge_late_tasks(Clock::time_point now);
  void resend_stale_results(Clock::time_point now);
  void send_ping_to_server(Clock::time_point now);

  Connection& link_;
  StatePaths paths_;
  AgentState state_;
  TimeSource now_;
  Journal journal_;
  std::optional<proto::Verifier> verifier_;
  Spool spool_;
  TaskRunner runner_;
  bool connected_ = false;
  Clock::time_point last_resend_scan_{};
  Clock::time_point last_ping_sent_{};
  std::string outstanding_ping_;
  unsigned long ping_counter_ = 0;
  // Task iqs not answered yet: a task that ends within the combine window is
  // answered with its result in one stanza; others get a plain ack then.
  struct PendingAck {
    std::string iq_id;
    std::string from;
    Clock::time_point deadline;
  };
  std::map<std::string, PendingAck> pending_acks_;  // by task id
};

}  // namespace muster::agent
