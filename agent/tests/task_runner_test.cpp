#include "task_runner.hpp"

#include <dirent.h>
#include <signal.h>
#include <sys/types.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "muster/proto/messages.hpp"
#include "muster/proto/uuid.hpp"
#include "platform/process.hpp"

namespace proto = muster::proto;
using muster::agent::TaskRunner;
using Clock = std::chrono::steady_clock;

namespace {

// Pids (other than ours) whose command line contains `needle`. Zombies have an
// empty command line, so they do not count: they no longer run anything.
std::vector<pid_t> processes_matching(const std::string& needle) {
  std::vector<pid_t> found;
  DIR* d = ::opendir("/proc");
  if (d == nullptr) return found;
  while (const dirent* e = ::readdir(d)) {
    const std::string name = e->d_name;
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == ::getpid()) continue;
    std::ifstream in("/proc/" + name + "/cmdline", std::ios::binary);
    const std::string cmdline((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (cmdline.find(needle) != std::string::npos) found.push_back(pid);
  }
  ::closedir(d);
  return found;
}

// Polls (reaping orphans meanwhile) until no process matches, or the deadline.
bool no_process_matching_within(const std::string& needle, std::chrono::milliseconds limit) {
  const auto deadline = Clock::now() + limit;
  for (;;) {
    muster::agent::platform::reap_orphans();
    if (processes_matching(needle).empty()) return true;
    if (Clock::now() >= deadline) return false;
    ::usleep(10 * 1000);
  }
}

proto::Task shell_task(const std::string& command, std::int64_t timeout_s = 30,
                       std::int64_t quota = proto::kDefaultOutputQuota) {
  proto::Task t;
  t.task_id = proto::new_uuid();
  t.job_id = proto::new_uuid();
  t.command = command;
  t.timeout_s = timeout_s;
  t.output_quota = quota;
  return t;
}

proto::Task argv_task(std::vector<std::string> argv) {
  proto::Task t;
  t.task_id = proto::new_uuid();
  t.job_id = proto::new_uuid();
  t.argv = std::move(argv);
  t.timeout_s = 30;
  return t;
}

// `seq 1 n` as the shell prints it.
std::string seq_output(int n) {
  std::string s;
  for (int i = 1; i <= n; ++i) s += std::to_string(i) + "\n";
  return s;
}

class TaskRunnerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // As the agent does at start: orphans of task trees come back to us.
    muster::agent::platform::adopt_orphans();
  }

  void TearDown() override {
    runner.abort_all("test teardown");
    muster::agent::platform::reap_orphans();
  }

  // Pumps until `count` results arrived or `limit` passed; true on success.
  bool pump_until_results(std::size_t count, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto deadline = Clock::now() + limit;
    while (results.size() < count) {
      if (Clock::now() >= deadline) return false;
      runner.pump();
      ::usleep(2 * 1000);
    }
    return true;
  }

  // Starts one task, pumps until its result, returns it (and the wall time).
  proto::TaskResult run(const proto::Task& task, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto t0 = Clock::now();
    runner.start(task);
    const bool finished = pump_until_results(1, limit);
    elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0);
    EXPECT_TRUE(finished) << "no result within " << limit.count() << " ms";
    if (!finished) return proto::TaskResult{};
    EXPECT_EQ(results.size(), 1u);
    EXPECT_FALSE(runner.running(task.task_id));
    return results.front();
  }

  std::string chunk_text(proto::Stream stream) const {
    std::string s;
    for (const auto& c : chunks) {
      if (c.stream == stream) s += c.data;
    }
    return s;
  }

  std::vector<proto::OutputChunk> chunks;
  std::vector<proto::TaskResult> results;
  std::chrono::milliseconds elapsed{0};
  TaskRunner runner{[this](const proto::OutputChunk& c) { chunks.push_back(c); },
                    [this](const proto::TaskResult& r) { results.push_back(r); }};
};

}  // namespace

TEST_F(TaskRunnerTest, EchoSucceeds) {
  const auto task = shell_task("echo hi");
  const auto r = run(task);
  EXPECT_EQ(r.task_id, task.task_id);
  EXPECT_EQ(r.job_id, task.job_id);
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 0);
  EXPECT_FALSE(r.signal.has_value());
  EXPECT_FALSE(r.error.has_value());
  EXPECT_EQ(r.stdout_text, "hi\n");
  EXPECT_EQ(r.stderr_text, "");
  EXPECT_EQ(r.stdout_dropped, 0);
  EXPECT_EQ(r.stderr_dropped, 0);
  EXPECT_GT(r.started_at, 0);
  EXPECT_GE(r.finished_at, r.started_at);
  EXPECT_GE(r.duration_ms, 0);
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  EXPECT_EQ(chunk_text(proto::Stream::stdout_stream), "hi\n");
  EXPECT_FALSE(runner.active());
}

TEST_F(TaskRunnerTest, NonZeroExitFailsWithStderr) {
  const auto r = run(shell_task("echo err >&2; exit 3"));
  EXPECT_EQ(r.state, proto::TaskOutcome::failed);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 3);
  EXPECT_FALSE(r.signal.has_value());
  EXPECT_FALSE(r.error.has_value());
  EXPECT_EQ(r.stdout_text, "");
  EXPECT_EQ(r.stderr_text, "err\n");
  EXPECT_EQ(chunk_text(proto::Stream::stderr_stream), "err\n");
}

TEST_F(TaskRunnerTest, ArgvFormRunsWithoutAShell) {
  const auto r = run(argv_task({"/bin/echo", "a", "b"}));
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  ASSERT_TRUE(r.exit_code.has_value());
  EXPECT_EQ(*r.exit_code, 0);
  EXPECT_EQ(r.stdout_text, "a b\n");
}

TEST_F(TaskRunnerTest, ArgvFormUsesPathAndDoesNotExpand) {
  const auto r = run(argv_task({"echo", "$HOME", "*", "a;b"}));
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  EXPECT_EQ(r.stdout_text, "$HOME * a;b\n");
}

TEST_F(TaskRunnerTest, MissingProgramFailsAtOnceNamingIt) {
  const auto task = argv_task({"/nonexistent/muster-no-such-program", "x"});
  runner.start(task);
  // Reported synchronously from start(), no pump needed.
  ASSERT_EQ(results.size(), 1u);
  const auto& r = results.front();
  EXPECT_EQ(r.task_id, task.task_id);
  EXPECT_EQ(r.job_id, task.job_id);
  EXPECT_EQ(r.state, proto::TaskOutcome::failed);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_NE(r.error->find("/nonexistent/muster-no-such-program"), std::string::npos) << *r.error;
  EXPECT_FALSE(r.exit_code.has_value());
  EXPECT_FALSE(runner.active());
  EXPECT_TRUE(chunks.empty());
}

TEST_F(TaskRunnerTest, MissingProgramOnPathFailsAtOnce) {
  runner.start(argv_task({"muster-no-such-program-on-path"}));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results.front().error.has_value());
  EXPECT_NE(results.front().error->find("muster-no-such-program-on-path"), std::string::npos);
  EXPECT_FALSE(runner.active());
}

TEST_F(TaskRunnerTest, EmptyArgvFailsAtOnce) {
  proto::Task t = argv_task({});
  runner.start(t);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results.front().state, proto::TaskOutcome::failed);
  EXPECT_TRUE(results.front().error.has_value());
}

TEST_F(TaskRunnerTest, TimeoutKillsTheWholeTree) {
  const auto r = run(shell_task("sleep 30117 & sleep 30217 & wait", 1));
  EXPECT_EQ(r.state, proto::TaskOutcome::timed_out);
  ASSERT_TRUE(r.error.has_value());
  EXPECT_NE(r.error->find("timeout"), std::string::npos) << *r.error;
  EXPECT_FALSE(r.exit_code.has_value());
  ASSERT_TRUE(r.signal.has_value());
  EXPECT_EQ(*r.signal, SIGKILL);
  EXPECT_GE(elapsed, std::chrono::milliseconds(900));
  EXPECT_LT(elapsed, std::chrono::milliseconds(2000));
  EXPECT_GE(r.duration_ms, 900);
  EXPECT_TRUE(no_process_matching_within("30117", std::chrono::seconds(2)));
  EXPECT_TRUE(no_process_matching_within("30217", std::chrono::seconds(2)));
}

TEST_F(TaskRunnerTest, BackgroundChildDoesNotOutliveTheTask) {
  const auto r = run(shell_task("sleep 30118 & echo done"));
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  EXPECT_EQ(r.stdout_text, "done\n");
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  EXPECT_TRUE(no_process_matching_within("30118", std::chrono::seconds(2)));
}

TEST_F(TaskRunnerTest, EscapedDescendantHoldingThePipeDoesNotBlockTheResult) {
  // setsid moves the background sleep out of the task's process group, so
  // kill_tree cannot reach it; it keeps stdout open. The runner stops waiting
  // for end of file after a short grace period.
  const auto r = run(shell_task("setsid sleep 30119 & echo done"));
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  EXPECT_EQ(r.stdout_text, "done\n");
  EXPECT_LT(elapsed, std::chrono::seconds(2));
  // Clean up what this test started (it escaped the runner by design).
  for (pid_t pid : processes_matching("30119")) ::kill(pid, SIGKILL);
  EXPECT_TRUE(no_process_matching_within("30119", std::chrono::seconds(2)));
}

TEST_F(TaskRunnerTest, OutputQuotaKeepsHeadAndTail) {
  const std::string all = seq_output(170000).substr(0, 1 << 20);
  ASSERT_EQ(all.size(), 1u << 20);
  const auto r = run(shell_task("seq 1 170000 | head -c 1048576", 30, 4096));
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  ASSERT_EQ(r.stdout_text.size(), 4096u);
  EXPECT_EQ(r.stdout_text, all.substr(0, 2048) + all.substr(all.size() - 2048));
  EXPECT_EQ(r.stdout_dropped, (1 << 20) - 4096);
  EXPECT_EQ(r.stderr_dropped, 0);
  // Only the head was streamed live.
  EXPECT_EQ(chunk_text(proto::Stream::stdout_stream), all.substr(0, 2048));
}

TEST_F(TaskRunnerTest, QuotaAppliesToEachStreamSeparately) {
  const auto r = run(shell_task("seq 1 2000; seq 1 3000 >&2", 30, 1024));
  const std::string out = seq_output(2000);
  const std::string err = seq_output(3000);
  EXPECT_EQ(r.stdout_text, out.substr(0, 512) + out.substr(out.size() - 512));
  EXPECT_EQ(r.stderr_text, err.substr(0, 512) + err.substr(err.size() - 512));
  EXPECT_EQ(r.stdout_dropped, static_cast<std::int64_t>(out.size()) - 1024);
  EXPECT_EQ(r.stderr_dropped, static_cast<std::int64_t>(err.size()) - 1024);
}

TEST_F(TaskRunnerTest, ChunksAreNumberedAndConcatenateToTheHead) {
  const std::string all = seq_output(100000);
  const auto task = shell_task("seq 1 100000", 30, 1 << 20);
  const auto r = run(task);
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  ASSERT_GT(all.size(), std::size_t{1} << 20 >> 1);
  ASSERT_GE(chunks.size(), 32u);
  for (std::size_t i = 0; i < chunks.size(); ++i) {
    EXPECT_EQ(chunks[i].seq, static_cast<std::int64_t>(i));
    EXPECT_EQ(chunks[i].task_id, task.task_id);
    EXPECT_EQ(chunks[i].job_id, task.job_id);
    EXPECT_EQ(chunks[i].stream, proto::Stream::stdout_stream);
    EXPECT_LE(chunks[i].data.size(), proto::kMaxOutputChunkBytes);
    EXPECT_FALSE(chunks[i].data.empty());
  }
  EXPECT_EQ(chunk_text(proto::Stream::stdout_stream), all.substr(0, 512 * 1024));
  // The whole stream fits the quota (head + tail), so the result has it all.
  EXPECT_EQ(r.stdout_dropped, 0);
  EXPECT_EQ(r.stdout_text, all);
}

TEST_F(TaskRunnerTest, ChunkSeqIsSharedAcrossStreams) {
  run(shell_task("echo out1; echo err1 >&2; echo out2"));
  ASSERT_FALSE(chunks.empty());
  for (std::size_t i = 0; i < chunks.size(); ++i) EXPECT_EQ(chunks[i].seq, static_cast<std::int64_t>(i));
  EXPECT_EQ(chunk_text(proto::Stream::stdout_stream), "out1\nout2\n");
  EXPECT_EQ(chunk_text(proto::Stream::stderr_stream), "err1\n");
}

TEST_F(TaskRunnerTest, NonUtf8OutputBecomesReplacementCharacter) {
  const auto r = run(shell_task("printf 'a\\377b'; printf '\\376' >&2"));
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  EXPECT_EQ(r.stdout_text, "a\xEF\xBF\xBD" "b");
  EXPECT_EQ(r.stderr_text, "\xEF\xBF\xBD");
  EXPECT_EQ(chunk_text(proto::Stream::stdout_stream), "a\xEF\xBF\xBD" "b");
}

TEST_F(TaskRunnerTest, ValidUtf8PassesThrough) {
  const auto r = run(shell_task("printf 'gr\\303\\274\\303\\237e \\342\\202\\254\\n'"));
  EXPECT_EQ(r.stdout_text, "gr\xC3\xBC\xC3\x9F" "e \xE2\x82\xAC\n");
  EXPECT_EQ(chunk_text(proto::Stream::stdout_stream), r.stdout_text);
}

// Multi-byte characters that straddle a read or chunk boundary must arrive
// intact in the live chunks too, not as two U+FFFD.
// DISABLED: fails against the current agent. TaskRunner::drain converts each
// piece with to_xml_safe_utf8 on its own, so a character split between two
// reads (or two 16 KiB pieces) becomes two U+FFFD in the live output. Enable
// once drain() carries an incomplete trailing sequence over to the next read.
TEST_F(TaskRunnerTest, MultiByteCharactersSurviveChunkBoundaries) {
  // "\xC3\xA9\n" (é + newline) is 3 bytes, so 16 KiB reads split characters.
  std::string expected;
  for (int i = 0; i < 10000; ++i) expected += "\xC3\xA9\n";
  const auto r = run(shell_task("yes '\xC3\xA9' | head -n 10000", 30, 60000));
  EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
  EXPECT_EQ(r.stdout_text, expected);
  const std::string live = chunk_text(proto::Stream::stdout_stream);
  EXPECT_EQ(live.size(), expected.size());
  EXPECT_TRUE(live == expected) << "live chunks differ from the output (" << chunks.size() << " chunks)";
}

// The failure result of a task that cannot start must still be a valid Result
// payload: decode_task_result (used by the hub and by Spool::load) caps
// "error" at 4096 bytes, but the runner copies argv[0] (up to 64 KiB in a
// valid Task) into the message.
// DISABLED: fails against the current agent; the result is undeliverable.
TEST_F(TaskRunnerTest, StartFailureWithLongProgramNameIsAValidResult) {
  runner.start(argv_task({"/nonexistent/" + std::string(5000, 'x')}));
  ASSERT_EQ(results.size(), 1u);
  ASSERT_TRUE(results.front().error.has_value());
  auto decoded = proto::decode_task_result(proto::encode(results.front()));
  EXPECT_TRUE(decoded.ok()) << decoded.error().message;
}

TEST_F(TaskRunnerTest, SeveralTasksRunConcurrently) {
  const auto a = shell_task("sleep 0.3; echo a");
  const auto b = shell_task("echo b; exit 1");
  const auto c = argv_task({"/bin/echo", "c"});
  runner.start(a);
  runner.start(b);
  runner.start(c);
  EXPECT_EQ(runner.size(), 3u);
  ASSERT_TRUE(pump_until_results(3));
  EXPECT_FALSE(runner.active());
  for (const auto& r : results) {
    if (r.task_id == a.task_id) {
      EXPECT_EQ(r.stdout_text, "a\n");
      EXPECT_EQ(r.state, proto::TaskOutcome::succeeded);
    } else if (r.task_id == b.task_id) {
      EXPECT_EQ(r.stdout_text, "b\n");
      EXPECT_EQ(r.state, proto::TaskOutcome::failed);
    } else {
      EXPECT_EQ(r.task_id, c.task_id);
      EXPECT_EQ(r.stdout_text, "c\n");
    }
  }
  // The slow task finishes last.
  EXPECT_EQ(results.back().task_id, a.task_id);
}

TEST_F(TaskRunnerTest, CommandRunsWithStdinFromDevNull) {
  const auto r = run(shell_task("cat; echo rc=$?"));
  EXPECT_EQ(r.stdout_text, "rc=0\n");
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

TEST_F(TaskRunnerTest, KilledBySignalFails) {
  const auto r = run(shell_task("kill -TERM $$"));
  EXPECT_EQ(r.state, proto::TaskOutcome::failed);
  EXPECT_FALSE(r.exit_code.has_value());
  ASSERT_TRUE(r.signal.has_value());
  EXPECT_EQ(*r.signal, SIGTERM);
}

TEST_F(TaskRunnerTest, AbortAllReportsRunningTasksAsFailed) {
  const auto a = shell_task("echo started; sleep 30120");
  const auto b = shell_task("sleep 30121");
  runner.start(a);
  runner.start(b);
  // Wait until the first task has demonstrably started running.
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (chunk_text(proto::Stream::stdout_stream).empty() && Clock::now() < deadline) {
    runner.pump();
    ::usleep(2 * 1000);
  }
  ASSERT_EQ(chunk_text(proto::Stream::stdout_stream), "started\n");
  ASSERT_TRUE(results.empty());
  runner.abort_all("the agent is stopping");
  ASSERT_EQ(results.size(), 2u);
  EXPECT_FALSE(runner.active());
  for (const auto& r : results) {
    EXPECT_EQ(r.state, proto::TaskOutcome::failed);
    ASSERT_TRUE(r.error.has_value());
    EXPECT_EQ(*r.error, "the agent is stopping");
    EXPECT_TRUE(r.task_id == a.task_id || r.task_id == b.task_id);
  }
  EXPECT_NE(results[0].task_id, results[1].task_id);
  EXPECT_TRUE(no_process_matching_within("30120", std::chrono::seconds(2)));
  EXPECT_TRUE(no_process_matching_within("30121", std::chrono::seconds(2)));
  // Nothing more is reported afterwards.
  runner.pump();
  EXPECT_EQ(results.size(), 2u);
}

TEST_F(TaskRunnerTest, AbortAllWithNothingRunningReportsNothing) {
  runner.abort_all("nothing");
  runner.pump();
  EXPECT_TRUE(results.empty());
}

// A main process that moves itself into another process group (here: the
// agent's own, which is in the same session) is out of reach of kill_tree(),
// which only signals the group -pid. The timeout must still end the task.
// DISABLED: fails against the current agent: the task is marked timed_out
// internally but never ends (no result after 4 s with timeout_s 1), and the
// ChildProcess destructor would then block in waitpid() until the process
// exits on its own. The test kills the process itself so it cannot hang.
TEST_F(TaskRunnerTest, TimeoutKillsAMainProcessThatLeftItsGroup) {
  runner.start(shell_task(
      "exec perl -e 'setpgrp(0, getpgrp(getppid())) or die; exec qw(sleep 30123)'", 1));
  const bool finished = pump_until_results(1, std::chrono::seconds(4));
  for (pid_t pid : processes_matching("30123")) ::kill(pid, SIGKILL);  // never leave it behind
  ASSERT_TRUE(finished) << "no result 3 s after the timeout";
  EXPECT_EQ(results.front().state, proto::TaskOutcome::timed_out);
}

// What a restarted agent does with the tree record of a task its previous
// run left behind.
TEST(LeftoverTree, KillsTheWholeGroupOfTheRecordedLeader) {
  namespace platform = muster::agent::platform;
  platform::ProcessSpec spec;
  spec.shell_command = "sleep 30121 & sleep 30122";
  auto child = platform::start_process(spec);
  ASSERT_TRUE(child.ok());
  const std::string record = (*child)->tree_record();
  ASSERT_NE(record.find(':'), std::string::npos) << record;
  EXPECT_EQ(platform::end_leftover_tree(record), platform::Leftover::killed);
  EXPECT_TRUE(no_process_matching_within("30121", std::chrono::seconds(2)));
  EXPECT_TRUE(no_process_matching_within("30122", std::chrono::seconds(2)));
  // Nothing left: nothing to kill.
  (*child)->try_wait();
  EXPECT_TRUE(no_process_matching_within("30122", std::chrono::seconds(2)));
}

TEST(LeftoverTree, LeavesALaterProcessWithTheSameIdAlone) {
  namespace platform = muster::agent::platform;
  platform::ProcessSpec spec;
  spec.shell_command = "sleep 30123";
  auto child = platform::start_process(spec);
  ASSERT_TRUE(child.ok());
  const std::string record = (*child)->tree_record();
  // The same id with another start time: a process that only reused the id.
  const std::string reused = record.substr(0, record.find(':') + 1) + "1";
  EXPECT_EQ(platform::end_leftover_tree(reused), platform::Leftover::none);
  EXPECT_FALSE(no_process_matching_within("30123", std::chrono::milliseconds(300)));
  for (const char* junk : {"", ":", "abc:1", "1:1", "-5:1", "99999999999999999999:1"}) {
    EXPECT_EQ(platform::end_leftover_tree(junk), platform::Leftover::none) << junk;
  }
  (*child)->kill_tree();
}
