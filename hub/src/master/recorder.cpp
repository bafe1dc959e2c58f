#include "master/recorder.hpp"

#include <algorithm>
#include <set>

#include "core/auth.hpp"
#include "core/tasks.hpp"
#include "metrics/metrics.hpp"
#include "muster/proto/log.hpp"

namespace muster::hub {
namespace {

TaskKey task_of(const Recorder::Report& r) { return {r.job_id, r.agent_id}; }

}  // namespace

Recorder::Recorder(ShardStore& store, double result_grace_s, AnswerSink answers,
                   std::function<void()> on_store_failure)
    : store_(store),
      result_grace_s_(result_grace_s),
      answers_(std::move(answers)),
      on_store_failure_(std::move(on_store_failure)) {}

Recorder::~Recorder() { stop(); }

void Recorder::start() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = false;
  }
  thread_ = std::thread([this] { loop(); });
}

void Recorder::stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Recorder::add(Report report) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(report));
  }
  wake_.notify_one();
}

void Recorder::loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (queue_.empty() && stopping_) return;
    // Everything that arrived while the last batch was being recorded.
    std::vector<Report> batch;
    batch.swap(queue_);
    lock.unlock();
    record(batch);
    lock.lock();
  }
}

void Recorder::record(std::vector<Report>& batch) {
  std::vector<Answer> answers;
  try {
    // Every check of the batch in one round trip: a deleted agent's reports
    // are refused, like anything else it sends, and a result must name the
    // task that was sent to its agent.
    std::vector<std::string> agents;
    {
      std::set<std::string> unique;
      for (const auto& r : batch) {
        if (unique.insert(r.agent_id).second) agents.push_back(r.agent_id);
      }
    }
    std::vector<TaskKey> with_results;
    for (const auto& r : batch) {
      if (r.result) with_results.push_back(task_of(r));
    }
    const ReportChecks checks = store_.check_reports(agents, with_results);
    // Acks first: an agent acknowledges a task before it sends its result.
    std::vector<const Report*> acks, results;
    std::size_t next_task_id = 0;
    for (const auto& r : batch) {
      const std::string* sent_task_id = r.result ? &checks.sent_task_ids.at(next_task_id++) : nullptr;
      if (checks.revoked_agents.count(r.agent_id) != 0) {
        if (r.result) answers.push_back({r.iq_id, r.from, false, "auth", "forbidden", "not an agent of this region"});
        continue;
      }
      if (!r.result) {
        acks.push_back(&r);
      } else if (*sent_task_id != r.result->task_id) {
        answers.push_back({r.iq_id, r.from, false, "cancel", "item-not-found", "no such task for this agent"});
      } else {
        results.push_back(&r);
      }
    }
    record_acks(acks);
    record_results(results, answers);
  } catch (const StoreError& e) {
    log::warn("master", std::string("store: ") + e.what() + "; " + std::to_string(batch.size()) + " report(s) not recorded");
    if (on_store_failure_) on_store_failure_();
    // Agents send unacknowledged results again; unacknowledged tasks are
    // sent again by the sweep, and the agents' journals acknowledge them.
    answers.clear();
    for (const auto& r : batch) {
      if (r.result) answers.push_back({r.iq_id, r.from, false, "wait", "internal-server-error", "store unavailable"});
    }
  }
  // Results that came with the answer to their task iq get no answer.
  answers.erase(std::remove_if(answers.begin(), answers.end(), [](const Answer& a) { return a.iq_id.empty(); }),
                answers.end());
  if (!answers.empty()) answers_(std::move(answers));
}

void Recorder::record_acks(const std::vector<const Report*>& acks) {
  if (acks.empty()) return;
  std::vector<TransitionRequest> moves;
  for (const auto* r : acks) moves.push_back({r->job_id, r->agent_id, "running", {"dispatched"}, {}});
  const auto outcomes = store_.transition(moves);
  // The task now has until its timeout (plus grace) to report.
  std::set<std::string> jobs;
  for (std::size_t i = 0; i < acks.size(); ++i) {
    if (outcomes[i].moved) jobs.insert(acks[i]->job_id);
  }
  if (jobs.empty()) return;
  const auto timeouts = store_.job_timeouts(jobs);
  const double now = unix_time();
  std::vector<InFlight> deadlines;
  for (std::size_t i = 0; i < acks.size(); ++i) {
    if (outcomes[i].moved) deadlines.push_back({task_of(*acks[i]), now + timeouts.at(acks[i]->job_id) + result_grace_s_});
  }
  store_.watch_in_flight(deadlines, InFlightWrite::move_if_present);
}

void Recorder::count_result(const std::string& state, bool job_finished, double run_seconds) {
  auto& r = metrics::registry();
  r.counter("muster_task_results_total", "Task results recorded, by the state they ended in", {{"state", state}}).add();
  if (run_seconds >= 0) {
    r.histogram("muster_task_run_seconds", "How long tasks ran on their agents, as the agents measured it")
        .observe(run_seconds);
  }
  if (job_finished) r.counter("muster_jobs_finished_total", "Jobs whose last task ended").add();
}

void Recorder::record_results(const std::vector<const Report*>& results, std::vector<Answer>& answers) {
  if (results.empty()) return;
  std::vector<TransitionRequest> moves;
  std::vector<TaskKey> settled;
  for (const auto* r : results) {
    moves.push_back({r->job_id, r->agent_id, proto::to_string(r->result->state), {"pending", "dispatched", "running"},
                     result_fields(*r->result)});
    settled.push_back(task_of(*r));
  }
  // A repeated result (the agent resends until acked) finds the task final
  // already and changes nothing; it is acknowledged all the same.
  std::vector<TransitionOutcome> outcomes;
  try {
    outcomes = store_.transition(moves, settled);
  } catch (const StoreError&) {
    // The in-flight records may be gone while the transitions did not run:
    // put them back (keeping any the removal missed), so the sweep still
    // watches these tasks until their agents' resent results are recorded.
    std::vector<InFlight> restore;
    for (const auto& t : settled) restore.push_back({t, unix_time() + result_grace_s_});
    try {
      store_.watch_in_flight(restore, InFlightWrite::keep_if_present);
    } catch (const StoreError& e) {
      log::warn("master", std::string("store: cannot restore in-flight records: ") + e.what());
    }
    throw;
  }
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& o = outcomes[i];
    if (o.moved) {
      const auto& result = *results[i]->result;
      count_result(moves[i].new_state, o.job_finished,
                   result.started_at > 0 ? result.finished_at - result.started_at : -1);
    }
    if (o.release_agent || o.job_halted || o.job_finished) store_.follow_up(results[i]->job_id, o);
    answers.push_back({results[i]->iq_id, results[i]->from, true, {}, {}, {}});
  }
}

std::vector<std::string> Recorder::result_fields(const proto::TaskResult& result) {
  std::vector<std::string> fields{"stdout",         result.stdout_text,
                                  "stderr",         result.stderr_text,
                                  "stdout_dropped", std::to_string(result.stdout_dropped),
                                  "stderr_dropped", std::to_string(result.stderr_dropped),
                                  "started_at",     format_time(result.started_at),
                                  "finished_at",    format_time(result.finished_at),
                                  "duration_ms",    std::to_string(result.duration_ms)};
  if (result.exit_code) fields.insert(fields.end(), {"exit_code", std::to_string(*result.exit_code)});
  if (result.signal) fields.insert(fields.end(), {"signal", std::to_string(*result.signal)});
  if (result.error) fields.insert(fields.end(), {"error", *result.error});
  return fields;
}

}  // namespace muster::hub
