#pragma once
// What agents report about their tasks (the ack of a task iq, the result),
// recorded in the store by a thread of its own and in batches: a burst of N
// reports costs a few pipelined round trips instead of four each, and the
// XMPP thread never waits for the store. A result is acknowledged to its
// agent only once it is recorded; until then the agent keeps it in its spool.
#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "muster/proto/messages.hpp"
#include "store/shard_store.hpp"

namespace muster::hub {

class Recorder {
 public:
  struct Report {
    std::string agent_id;
    std::string job_id;
    std::string iq_id;  // of a result iq: answered once recorded; empty: no answer
    std::string from;
    std::optional<proto::TaskResult> result;  // none: the agent acknowledged the task
  };
  // The answer to a result iq: ok, or an error to send back.
  struct Answer {
    std::string iq_id;
    std::string to;
    bool ok = true;
    std::string error_type, condition, text;
  };
  using AnswerSink = std::function<void(std::vector<Answer>)>;

  // `result_grace_s`: how long past its timeout a running task may stay
  // without a result before the sweep gives it up.
  // `on_store_failure`: called when a batch could not be recorded.
  Recorder(ShardStore& store, double result_grace_s, AnswerSink answers, std::function<void()> on_store_failure);
  ~Recorder();
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void start();
  void stop();
  void add(Report report);

 private:
  static void count_result(const std::string& state, bool job_finished, double run_seconds);
  void loop();
  void record(std::vector<Report>& batch);
  void record_acks(const std::vector<const Report*>& acks);
  void record_results(const std::vector<const Report*>& results, std::vector<Answer>& answers);
  // The fields a result sets on its task.
  static std::vector<std::string> result_fields(const proto::TaskResult& result);

  ShardStore& store_;
  const double result_grace_s_;
  AnswerSink answers_;
  std::function<void()> on_store_failure_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::vector<Report> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace muster::hub
