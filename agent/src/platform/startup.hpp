#pragma once
// Process-wide setup, called by main() before anything else runs.
#include <csignal>
#include <functional>
#include <string>

namespace muster::agent::platform {

// Makes the process safe to run the agent: writes to a dead socket must not
// kill it (libstrophe sends without MSG_NOSIGNAL), and a static Linux build
// restricts name lookups to glibc's built-in "files dns".
void prepare_process();

// Sets *flag to 1 when the agent is asked to stop: SIGTERM/SIGINT on POSIX,
// console control events (Ctrl-C, close, shutdown) on Windows.
void on_stop_request(volatile std::sig_atomic_t* flag);

// Where the agent keeps its state unless told otherwise:
// /var/lib/muster-agent on POSIX, %ProgramData%\Muster\agent on Windows.
std::string default_state_dir();

// The account a privileged agent runs tasks as unless told otherwise
// (--task-user): "nobody" on POSIX, "LocalService" on Windows.
std::string default_task_user();

// The agent's work when it runs as a system service: it calls ready() once
// it is up (the service manager then shows it running), runs until *stop
// becomes non-zero, and returns the process's exit code.
using ServiceBody = std::function<int(volatile std::sig_atomic_t* stop, const std::function<void()>& ready)>;

// Windows: connects this process to the Service Control Manager
// (StartServiceCtrlDispatcherW), runs `body` on the service thread, reports
// START_PENDING / RUNNING / STOP_PENDING / STOPPED and sets *stop on the
// SCM's stop, shutdown and pre-shutdown controls; returns body's exit code
// once the service has stopped. Returns false with `error` set when the
// process was not started by the SCM (e.g. from a console), and on POSIX,
// where systemd and launchd run `muster-agent run` directly.
bool run_as_service(const ServiceBody& body, int& exit_code, std::string& error);

}  // namespace muster::agent::platform
