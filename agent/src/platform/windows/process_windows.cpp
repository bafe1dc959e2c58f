// Task processes on Windows. Each task runs in its own Job Object, so
// kill_tree() ends the whole tree at once (children started by the task are
// in the job too, and cannot break away), and closing the job on agent exit
// kills what is left. Output comes through two anonymous pipes, read without
// blocking (PeekNamedPipe, then ReadFile of what is there). A LocalSystem
// agent starts tasks as LocalService or NetworkService (run_as.hpp).
#include <windows.h>
#include <userenv.h>

#include <cstdlib>

#include "platform/process.hpp"
#include "platform/windows/run_as.hpp"
#include "platform/windows/win_text.hpp"

namespace muster::agent::platform {
namespace {

using proto::Error;
using proto::ErrorCode;

// Exit code reported for a tree ended by kill_tree(): 128 + 9, what a POSIX
// shell reports for a process killed by SIGKILL.
constexpr UINT kKilledExitCode = 137;

void close_handle(HANDLE& h) {
  if (h != nullptr && h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
  h = nullptr;
}

// Quotes one argument so that CommandLineToArgvW / the C runtime give it back
// unchanged (backslashes double only before a quote).
void append_quoted(std::wstring& line, const std::wstring& arg) {
  if (!arg.empty() && arg.find_first_of(L" \t\n\v\"") == std::wstring::npos) {
    line += arg;
    return;
  }
  line += L'"';
  for (auto it = arg.begin();; ++it) {
    std::size_t backslashes = 0;
    while (it != arg.end() && *it == L'\\') {
      ++it;
      ++backslashes;
    }
    if (it == arg.end()) {
      line.append(backslashes * 2, L'\\');
      break;
    }
    if (*it == L'"') {
      line.append(backslashes * 2 + 1, L'\\');
    } else {
      line.append(backslashes, L'\\');
    }
    line += *it;
  }
  line += L'"';
}

std::wstring shell_path() {
  wchar_t buffer[MAX_PATH] = {};
  const DWORD n = ::GetEnvironmentVariableW(L"ComSpec", buffer, MAX_PATH);
  if (n > 0 && n < MAX_PATH) return std::wstring(buffer, n);
  return L"cmd.exe";
}

class WindowsChild final : public ChildProcess {
 public:
  WindowsChild(HANDLE process, HANDLE job, HANDLE out, HANDLE err)
      : process_(process), job_(job), pipes_{out, err} {}
  ~WindowsChild() override {
    kill_tree();
    close_output();
    close_handle(process_);
    close_handle(job_);
  }
  WindowsChild(const WindowsChild&) = delete;
  WindowsChild& operator=(const WindowsChild&) = delete;

  void read_available(const std::function<void(OutputStream, std::string_view)>& sink) override {
    char buffer[16384];
    for (int i = 0; i < 2; ++i) {
      // Bounded per call so one noisy child cannot starve the event loop.
      for (int round = 0; round < 16 && pipes_[i] != nullptr; ++round) {
        DWORD available = 0;
        if (!::PeekNamedPipe(pipes_[i], nullptr, 0, nullptr, &available, nullptr)) {
          close_handle(pipes_[i]);  // ERROR_BROKEN_PIPE: every writer is gone
          break;
        }
        if (available == 0) break;
        DWORD n = 0;
        const DWORD want = available < sizeof buffer ? available : static_cast<DWORD>(sizeof buffer);
        if (!::ReadFile(pipes_[i], buffer, want, &n, nullptr) || n == 0) {
          close_handle(pipes_[i]);
          break;
        }
        sink(i == 0 ? OutputStream::out : OutputStream::err, std::string_view(buffer, n));
      }
    }
  }

  bool output_closed() const override { return pipes_[0] == nullptr && pipes_[1] == nullptr; }

  std::optional<ExitStatus> try_wait() override {
    if (status_) return status_;
    if (::WaitForSingleObject(process_, 0) != WAIT_OBJECT_0) return std::nullopt;
    DWORD code = 0;
    ::GetExitCodeProcess(process_, &code);
    ExitStatus s;
    s.exit_code = static_cast<int>(code);
    status_ = s;
    return status_;
  }

  void kill_tree() override {
    if (job_ != nullptr) ::TerminateJobObject(job_, kKilledExitCode);
  }

  void close_output() override {
    close_handle(pipes_[0]);
    close_handle(pipes_[1]);
  }

  // KILL_ON_JOB_CLOSE: the tree dies with the agent, nothing to find later.
  std::string tree_record() const override { return {}; }

 private:
  HANDLE process_;
  HANDLE job_;
  HANDLE pipes_[2];
  std::optional<ExitStatus> status_;
};

// A pipe whose read end stays with the agent and whose write end the child
// inherits.
bool make_pipe(HANDLE& read_end, HANDLE& write_end) {
  SECURITY_ATTRIBUTES sa{};
  sa.nLength = sizeof sa;
  sa.bInheritHandle = TRUE;
  if (!::CreatePipe(&read_end, &write_end, &sa, 0)) return false;
  ::SetHandleInformation(read_end, HANDLE_FLAG_INHERIT, 0);
  return true;
}

}  // namespace

proto::Result<std::unique_ptr<ChildProcess>> start_process(const ProcessSpec& spec) {
  std::wstring command_line;
  std::string shown;  // for error messages
  if (spec.shell_command) {
    // cmd /s /c "<command>": /s strips exactly the outer quotes, so the
    // command reaches cmd as written; /d skips AutoRun registry commands.
    command_line = L"\"" + shell_path() + L"\" /d /s /c \"" + win::widen(*spec.shell_command) + L"\"";
    shown = "cmd.exe";
  } else {
    if (spec.argv.empty()) return Error{ErrorCode::invalid_field, "nothing to run"};
    for (std::size_t i = 0; i < spec.argv.size(); ++i) {
      if (i > 0) command_line += L' ';
      append_quoted(command_line, win::widen(spec.argv[i]));
    }
    shown = spec.argv[0];
  }

  // The account first: a refused run_as starts nothing.
  const win::RunAs run_as =
      win::plan_run_as(spec.run_as_user, !spec.run_as_user.empty() && win::running_as_local_system());
  if (!run_as.error.empty()) return Error{ErrorCode::invalid_field, run_as.error};
  HANDLE token = nullptr;
  void* environment = nullptr;
  if (!run_as.account.empty()) {
    // No password: LocalSystem may log on the built-in service accounts.
    if (!::LogonUserW(run_as.account.c_str(), L"NT AUTHORITY", nullptr, LOGON32_LOGON_SERVICE,
                      LOGON32_PROVIDER_DEFAULT, &token)) {
      return Error{ErrorCode::io, "cannot log on NT AUTHORITY\\" + win::narrow(run_as.account) + " to run the task: " +
                                      win::error_text(::GetLastError())};
    }
    // The account's own environment (profile paths, TEMP), not SYSTEM's.
    if (!::CreateEnvironmentBlock(&environment, token, FALSE)) environment = nullptr;
  }
  const auto release_account = [&] {
    if (environment != nullptr) ::DestroyEnvironmentBlock(environment);
    environment = nullptr;
    close_handle(token);
  };

  HANDLE job = ::CreateJobObjectW(nullptr, nullptr);
  if (job == nullptr) {
    const DWORD e = ::GetLastError();
    release_account();
    return Error{ErrorCode::io, "CreateJobObject: " + win::error_text(e)};
  }
  JOBOBJECT_EXTENDED_LIMIT_INFORMATION limits{};
  limits.BasicLimitInformation.LimitFlags = JOB_OBJECT_LIMIT_KILL_ON_JOB_CLOSE | JOB_OBJECT_LIMIT_DIE_ON_UNHANDLED_EXCEPTION;
  ::SetInformationJobObject(job, JobObjectExtendedLimitInformation, &limits, sizeof limits);

  HANDLE out_r = nullptr, out_w = nullptr, err_r = nullptr, err_w = nullptr;
  if (!make_pipe(out_r, out_w) || !make_pipe(err_r, err_w)) {
    const DWORD e = ::GetLastError();
    for (HANDLE* h : {&out_r, &out_w, &err_r, &err_w, &job}) close_handle(*h);
    release_account();
    return Error{ErrorCode::io, "CreatePipe: " + win::error_text(e)};
  }
  SECURITY_ATTRIBUTES inherit{};
  inherit.nLength = sizeof inherit;
  inherit.bInheritHandle = TRUE;
  HANDLE null_in = ::CreateFileW(L"NUL", GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_WRITE, &inherit, OPEN_EXISTING,
                                 FILE_ATTRIBUTE_NORMAL, nullptr);

  STARTUPINFOW si{};
  si.cb = sizeof si;
  si.dwFlags = STARTF_USESTDHANDLES;
  si.hStdInput = null_in;
  si.hStdOutput = out_w;
  si.hStdError = err_w;
  PROCESS_INFORMATION pi{};
  // Suspended until it is in the job, so not even its first child escapes.
  // Tasks start in the root of the system drive, like "cd /" on POSIX.
  wchar_t root[MAX_PATH] = L"C:\\";
  if (::GetSystemWindowsDirectoryW(root, MAX_PATH) >= 3) root[3] = L'\0';
  const DWORD flags = CREATE_SUSPENDED | CREATE_NO_WINDOW | CREATE_UNICODE_ENVIRONMENT;
  BOOL started = FALSE;
  if (token != nullptr) {
    // An empty desktop name: the task connects to its own account's
    // service window station (Service-0x0-3e5$ for LocalService), which it
    // may use, instead of inheriting SYSTEM's, which it may not.
    wchar_t own_desktop[] = L"";
    si.lpDesktop = own_desktop;
    started = ::CreateProcessAsUserW(token, nullptr, command_line.data(), nullptr, nullptr, TRUE, flags, environment,
                                     root, &si, &pi);
  } else {
    started = ::CreateProcessW(nullptr, command_line.data(), nullptr, nullptr, TRUE, flags, nullptr, root, &si, &pi);
  }
  const DWORD start_error = ::GetLastError();
  release_account();
  close_handle(out_w);
  close_handle(err_w);
  close_handle(null_in);
  if (!started) {
    for (HANDLE* h : {&out_r, &err_r, &job}) close_handle(*h);
    const std::string as = run_as.account.empty() ? "" : " as NT AUTHORITY\\" + win::narrow(run_as.account);
    return Error{ErrorCode::io, "cannot execute " + shown + as + ": " + win::error_text(start_error)};
  }
  if (!::AssignProcessToJobObject(job, pi.hProcess)) {
    const DWORD e = ::GetLastError();
    ::TerminateProcess(pi.hProcess, kKilledExitCode);
    for (HANDLE* h : {&pi.hThread, &pi.hProcess, &out_r, &err_r, &job}) close_handle(*h);
    return Error{ErrorCode::io, "AssignProcessToJobObject: " + win::error_text(e)};
  }
  ::ResumeThread(pi.hThread);
  close_handle(pi.hThread);
  return std::unique_ptr<ChildProcess>(new WindowsChild(pi.hProcess, job, out_r, err_r));
}

// A Job Object holds the whole tree of a task: there are no orphans to adopt
// or reap as on POSIX.
void adopt_orphans() {}
void reap_orphans() {}
Leftover end_leftover_tree(const std::string&) { return Leftover::none; }

}  // namespace muster::agent::platform
