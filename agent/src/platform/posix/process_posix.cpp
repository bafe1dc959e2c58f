#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/prctl.h>
#endif

#include <cerrno>
#include <cstring>
#include <map>

#include "platform/fs.hpp"
#include "platform/process.hpp"

namespace muster::agent::platform {
namespace {

using proto::Error;
using proto::ErrorCode;

// The process's start time in clock ticks since boot (field 22 of
// /proc/PID/stat), or "" if there is no such process.
std::string start_time_of(pid_t pid) {
  auto stat = read_file("/proc/" + std::to_string(pid) + "/stat");
  if (!stat) return {};
  // The command name (field 2) may hold blanks and parentheses: count from
  // the last ')'.
  const auto close = stat->rfind(')');
  if (close == std::string::npos) return {};
  std::size_t pos = close + 1;
  for (int field = 3; field <= 22; ++field) {
    pos = stat->find_first_not_of(' ', pos);
    if (pos == std::string::npos) return {};
    const auto end = stat->find(' ', pos);
    if (field == 22) return stat->substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    pos = end;
  }
  return {};
}

// Task processes still owned by a ChildProcess, with the status that
// reap_orphans() collected if it reaped one first.
std::map<pid_t, std::optional<int>>& tracked_children() {
  static std::map<pid_t, std::optional<int>> children;
  return children;
}

ExitStatus to_exit_status(int status) {
  ExitStatus s;
  if (WIFEXITED(status)) s.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) s.signal = WTERMSIG(status);
  return s;
}

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

class PosixChild final : public ChildProcess {
 public:
  PosixChild(pid_t pid, int out_fd, int err_fd) : pid_(pid), fds_{out_fd, err_fd} {}
  ~PosixChild() override {
    kill_tree();
    close_output();
    if (!status_ && ::waitpid(pid_, nullptr, 0) < 0) {
      // Already reaped by reap_orphans(); nothing left to collect.
    }
    tracked_children().erase(pid_);
  }
  PosixChild(const PosixChild&) = delete;
  PosixChild& operator=(const PosixChild&) = delete;

  void read_available(const std::function<void(OutputStream, std::string_view)>& sink) override {
    char buffer[16384];
    for (int i = 0; i < 2; ++i) {
      // Bounded per call so one noisy child cannot starve the event loop.
      for (int round = 0; round < 16 && fds_[i] >= 0; ++round) {
        const ssize_t n = ::read(fds_[i], buffer, sizeof buffer);
        if (n > 0) {
          sink(i == 0 ? OutputStream::out : OutputStream::err, std::string_view(buffer, static_cast<std::size_t>(n)));
        } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
          close_fd(fds_[i]);
        } else {
          break;
        }
      }
    }
  }

  bool output_closed() const override { return fds_[0] < 0 && fds_[1] < 0; }

  std::optional<ExitStatus> try_wait() override {
    if (status_) return status_;
    int status = 0;
    const pid_t r = ::waitpid(pid_, &status, WNOHANG);
    auto& tracked = tracked_children();
    if (r == pid_) {
      status_ = to_exit_status(status);
      tracked.erase(pid_);
    } else if (r < 0 && errno == ECHILD) {
      auto it = tracked.find(pid_);
      if (it != tracked.end() && it->second) {
        status_ = to_exit_status(*it->second);
        tracked.erase(it);
      }
    }
    return status_;
  }

  void kill_tree() override {
    // The group id is the child's pid (setpgid in the child); it may already
    // be empty, which is fine. The main process itself is signalled too, in
    // case it moved to another group.
    ::kill(-pid_, SIGKILL);
    if (!status_) ::kill(pid_, SIGKILL);
  }

  void close_output() override {
    close_fd(fds_[0]);
    close_fd(fds_[1]);
  }

  // "<group id>:<start time of its leader>": the start time tells the
  // leader from a later process that was given the same id.
  std::string tree_record() const override { return std::to_string(pid_) + ":" + start_time_of(pid_); }

 private:
  pid_t pid_;
  int fds_[2];
  std::optional<ExitStatus> status_;
};

bool make_pipe(int fds[2]) { return ::pipe2(fds, O_CLOEXEC) == 0; }


}  // namespace

proto::Result<std::unique_ptr<ChildProcess>> start_process(const ProcessSpec& spec) {
  std::vector<std::string> args;
  if (spec.shell_command) {
    args = {"/bin/sh", "-c", *spec.shell_command};
  } else {
    args = spec.argv;
  }
  if (args.empty()) return Error{ErrorCode::invalid_field, "nothing to run"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  // Resolve the account before fork: getpwnam is not async-signal-safe.
  bool drop_privileges = false;
  uid_t uid = 0;
  gid_t gid = 0;
  if (!spec.run_as_user.empty() && ::geteuid() == 0) {
    const passwd* account = ::getpwnam(spec.run_as_user.c_str());
    if (account == nullptr) return Error{ErrorCode::io, "no account " + spec.run_as_user + " to run the task as"};
    drop_privileges = true;
    uid = account->pw_uid;
    gid = account->pw_gid;
  }

  int out[2], err[2], exec_report[2];
  if (!make_pipe(out) || !make_pipe(err) || !make_pipe(exec_report)) {
    return Error{ErrorCode::io, std::string("pipe: ") + std::strerror(errno)};
  }
  const pid_t pid = ::fork();
  if (pid < 0) {
    const int e = errno;
    for (int fd : {out[0], out[1], err[0], err[1], exec_report[0], exec_report[1]}) ::close(fd);
    return Error{ErrorCode::io, std::string("fork: ") + std::strerror(e)};
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls from here on.
    ::setpgid(0, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);
    const int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out[1], 1);
    ::dup2(err[1], 2);
    if (::chdir("/") != 0) _exit(126);
    if (drop_privileges && (::setgroups(1, &gid) != 0 || ::setgid(gid) != 0 || ::setuid(uid) != 0)) {
      const int e = errno;
      ssize_t ignored = ::write(exec_report[1], &e, sizeof e);
      (void)ignored;
      _exit(126);
    }
    ::execvp(argv[0], argv.data());
    const int e = errno;
    ssize_t ignored = ::write(exec_report[1], &e, sizeof e);
    (void)ignored;
    _exit(127);
  }
  // Parent: also set the group here, so kill_tree works even if the child
  // has not run yet.
  ::setpgid(pid, pid);
  ::close(out[1]);
  ::close(err[1]);
  ::close(exec_report[1]);
  int exec_errno = 0;
  ssize_t n;
  do {
    n = ::read(exec_report[0], &exec_errno, sizeof exec_errno);
  } while (n < 0 && errno == EINTR);
  ::close(exec_report[0]);
  if (n == static_cast<ssize_t>(sizeof exec_errno)) {
    ::close(out[0]);
    ::close(err[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return Error{ErrorCode::io, "cannot execute " + args[0] + ": " + std::strerror(exec_errno)};
  }
  tracked_children()[pid] = std::nullopt;
  ::fcntl(out[0], F_SETFL, O_NONBLOCK);
  ::fcntl(err[0], F_SETFL, O_NONBLOCK);
  return std::unique_ptr<ChildProcess>(new PosixChild(pid, out[0], err[0]));
}

void adopt_orphans() {
#if defined(__linux__)
  ::prctl(PR_SET_CHILD_SUBREAPER, 1);
#endif
}

void reap_orphans() {
  // Reaps re-parented orphans; statuses of task processes are kept for their
  // ChildProcess::try_wait().
  for (;;) {
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    auto it = tracked_children().find(pid);
    if (it != tracked_children().end()) it->second = status;
  }
}

Leftover end_leftover_tree(const std::string& tree_record) {
  const auto colon = tree_record.find(':');
  if (colon == std::string::npos || colon == 0) return Leftover::none;
  long group = 0;
  for (char c : tree_record.substr(0, colon)) {
    if (c < '0' || c > '9' || group > 1L << 30) return Leftover::none;
    group = group * 10 + (c - '0');
  }
  if (group <= 1) return Leftover::none;
  const std::string recorded_start = tree_record.substr(colon + 1);
  // A live process with the group's id that started at another time is not
  // our leader, and then our group is gone: the kernel does not hand out an
  // id that still names a process group.
  const std::string start = start_time_of(static_cast<pid_t>(group));
  if (!start.empty() && start != recorded_start) return Leftover::none;
  // The leader may be gone while the rest of its group runs on.
  return ::kill(static_cast<pid_t>(-group), SIGKILL) == 0 ? Leftover::killed : Leftover::none;
}

}  // namespace muster::agent::platform
