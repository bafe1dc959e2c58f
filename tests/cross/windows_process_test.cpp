// Windows process execution (agent/src/platform/windows/process_windows.cpp):
// cmd.exe commands, argv quoting, exit codes, both output pipes, and that
// kill_tree() ends the whole tree (a grandchild holding the pipes open too),
// and how run_as_user maps to Windows accounts.
// Built into agent_tests for Windows targets; runs under wine in ctest.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "platform/process.hpp"
#include "platform/windows/run_as.hpp"

namespace platform = muster::agent::platform;
namespace win = muster::agent::platform::win;
using Clock = std::chrono::steady_clock;

namespace {

struct Outcome {
  std::string out, err;
  platform::ExitStatus status;
  bool finished = false;
};

Outcome drain(platform::ChildProcess& child, std::chrono::seconds limit = std::chrono::seconds(30)) {
  Outcome o;
  const auto deadline = Clock::now() + limit;
  std::optional<platform::ExitStatus> status;
  while (Clock::now() < deadline) {
    child.read_available([&](platform::OutputStream s, std::string_view data) {
      (s == platform::OutputStream::out ? o.out : o.err).append(data);
    });
    if (!status) status = child.try_wait();
    if (status && child.output_closed()) {
      o.status = *status;
      o.finished = true;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return o;
}

platform::ProcessSpec shell(const std::string& command) {
  platform::ProcessSpec spec;
  spec.shell_command = command;
  return spec;
}

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
  return s;
}

}  // namespace

TEST(WindowsProcess, ShellCommandOutputAndExitCode) {
  auto child = platform::start_process(shell("echo hello-from-cmd"));
  ASSERT_TRUE(child) << child.error().message;
  const auto o = drain(**child);
  ASSERT_TRUE(o.finished);
  EXPECT_EQ(trimmed(o.out), "hello-from-cmd");
  EXPECT_EQ(o.err, "");
  ASSERT_TRUE(o.status.exit_code.has_value());
  EXPECT_EQ(*o.status.exit_code, 0);
  EXPECT_FALSE(o.status.signal.has_value());
}

TEST(WindowsProcess, NonZeroExitAndStderr) {
  auto child = platform::start_process(shell("echo oops 1>&2 & exit /b 3"));
  ASSERT_TRUE(child) << child.error().message;
  const auto o = drain(**child);
  ASSERT_TRUE(o.finished);
  EXPECT_EQ(trimmed(o.err), "oops");
  ASSERT_TRUE(o.status.exit_code.has_value());
  EXPECT_EQ(*o.status.exit_code, 3);
}

TEST(WindowsProcess, ArgvIsQuotedForTheChild) {
  platform::ProcessSpec spec;
  spec.argv = {"cmd.exe", "/d", "/c", "echo", "two words", "and\\back\\slashes"};
  auto child = platform::start_process(spec);
  ASSERT_TRUE(child) << child.error().message;
  const auto o = drain(**child);
  ASSERT_TRUE(o.finished);
  // cmd's echo prints its raw argument text: the quoted word stays quoted.
  EXPECT_EQ(trimmed(o.out), "\"two words\" and\\back\\slashes");
}

TEST(WindowsProcess, MissingProgramIsAnError) {
  platform::ProcessSpec spec;
  spec.argv = {"no-such-program-muster.exe"};
  auto child = platform::start_process(spec);
  ASSERT_FALSE(child);
  EXPECT_NE(child.error().message.find("cannot execute no-such-program-muster.exe"), std::string::npos)
      << child.error().message;
}

TEST(WindowsProcess, KillTreeEndsChildAndGrandchild) {
  // cmd starts ping as a grandchild; both hold the output pipe. Only if the
  // whole tree dies does the pipe reach end of file.
  auto child = platform::start_process(shell("ping -n 60 127.0.0.1"));
  ASSERT_TRUE(child) << child.error().message;
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_FALSE((*child)->try_wait().has_value()) << "the tree should still be running";
  const auto t0 = Clock::now();
  (*child)->kill_tree();
  const auto o = drain(**child, std::chrono::seconds(15));
  ASSERT_TRUE(o.finished) << "tree still alive (pipe open) after kill_tree";
  EXPECT_LT(Clock::now() - t0, std::chrono::seconds(10));
  ASSERT_TRUE(o.status.exit_code.has_value());
  EXPECT_EQ(*o.status.exit_code, 137);
}

// run_as on Windows (platform/windows/run_as.hpp): a LocalSystem agent maps
// the built-in service accounts and refuses every other name; an agent that
// is not LocalSystem ignores run_as.
TEST(WindowsRunAs, BuiltInServiceAccountsAreMapped) {
  for (const char* name : {"LocalService", "localservice", "Local Service", "NT AUTHORITY\\LocalService",
                           "nt authority\\LOCAL SERVICE"}) {
    const auto plan = win::plan_run_as(name, true);
    EXPECT_EQ(plan.account, L"LocalService") << name;
    EXPECT_EQ(plan.error, "") << name;
  }
  for (const char* name : {"NetworkService", "Network Service", "NT AUTHORITY\\NetworkService"}) {
    const auto plan = win::plan_run_as(name, true);
    EXPECT_EQ(plan.account, L"NetworkService") << name;
    EXPECT_EQ(plan.error, "") << name;
  }
}

TEST(WindowsRunAs, OtherAccountsAreRefusedByALocalSystemAgent) {
  for (const char* name : {"nobody", "Administrator", "NT AUTHORITY\\SYSTEM", "LocalSystem", "BUILTIN\\LocalService",
                           "LocalService ", "NT AUTHORITY\\"}) {
    const auto plan = win::plan_run_as(name, true);
    EXPECT_EQ(plan.account, L"") << name;
    EXPECT_EQ(plan.error, std::string("run_as on Windows supports only the LocalService and NetworkService "
                                      "accounts: ") + name);
  }
}

TEST(WindowsRunAs, IgnoredUnlessLocalSystem) {
  for (const char* name : {"LocalService", "NetworkService", "Administrator", ""}) {
    const auto plan = win::plan_run_as(name, false);
    EXPECT_EQ(plan.account, L"") << name;
    EXPECT_EQ(plan.error, "") << name;
  }
  const auto none = win::plan_run_as("", true);
  EXPECT_EQ(none.account, L"");
  EXPECT_EQ(none.error, "");
}

TEST(WindowsRunAs, StartProcessFollowsThePlan) {
  // Whatever account this test runs as: not LocalSystem, the task runs as
  // this account whatever run_as says; LocalSystem (real Windows, as SYSTEM),
  // an unknown account is refused and nothing runs.
  platform::ProcessSpec spec = shell("echo ran");
  spec.run_as_user = "Administrator";
  auto child = platform::start_process(spec);
  if (win::running_as_local_system()) {
    ASSERT_FALSE(child);
    EXPECT_EQ(child.error().message,
              "run_as on Windows supports only the LocalService and NetworkService accounts: Administrator");
  } else {
    ASSERT_TRUE(child) << child.error().message;
    const auto o = drain(**child);
    ASSERT_TRUE(o.finished);
    EXPECT_EQ(trimmed(o.out), "ran");
  }
}
