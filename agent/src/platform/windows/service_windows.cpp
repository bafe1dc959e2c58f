// The agent as a Windows service. `muster-agent service` hands the main
// thread to the Service Control Manager (StartServiceCtrlDispatcherW); the
// SCM calls service_main on a thread of its own, which registers the control
// handler, reports START_PENDING, runs the agent and reports STOPPED when the
// agent's loop returns. The handler runs on the dispatcher (main) thread: a
// stop, shutdown or pre-shutdown control reports STOP_PENDING and sets the
// agent's stop flag; the agent then says goodbye to its master and returns
// within a few seconds (Agent::run), well inside the wait hint.
#include <windows.h>

#include <mutex>

#include "log.hpp"
#include "platform/startup.hpp"
#include "platform/windows/run_as.hpp"
#include "platform/windows/win_text.hpp"

namespace muster::agent::platform {
namespace {

// The SCM ignores the name for a SERVICE_WIN32_OWN_PROCESS service: any
// name installed with `sc create` or the MSI works.
wchar_t kServiceName[] = L"MusterAgent";

// How long the SCM should wait between two reports of a pending state. The
// agent's stop takes at most about 4 s (a 1 s poll, then 3 s for the stream
// to close); its start reads the state directory.
constexpr DWORD kStartWaitHintMs = 30000;
constexpr DWORD kStopWaitHintMs = 15000;

struct Service {
  std::mutex lock;  // the handler (dispatcher thread) and service_main both report
  SERVICE_STATUS_HANDLE handle = nullptr;
  SERVICE_STATUS status{};
  const ServiceBody* body = nullptr;
  volatile std::sig_atomic_t stop = 0;
  int exit_code = 0;
};
Service g_service;

void report_locked(DWORD state, DWORD wait_hint) {
  SERVICE_STATUS& s = g_service.status;
  s.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
  s.dwCurrentState = state;
  s.dwControlsAccepted =
      state == SERVICE_RUNNING ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN : 0;
  // Pending states count up so the SCM sees progress; settled states say 0.
  s.dwCheckPoint = state == SERVICE_RUNNING || state == SERVICE_STOPPED ? 0 : s.dwCheckPoint + 1;
  s.dwWaitHint = wait_hint;
  if (state == SERVICE_STOPPED && g_service.exit_code != 0) {
    s.dwWin32ExitCode = ERROR_SERVICE_SPECIFIC_ERROR;
    s.dwServiceSpecificExitCode = static_cast<DWORD>(g_service.exit_code);
  } else {
    s.dwWin32ExitCode = NO_ERROR;
    s.dwServiceSpecificExitCode = 0;
  }
  if (g_service.handle != nullptr && !::SetServiceStatus(g_service.handle, &s)) {
    LOG_WARN("SetServiceStatus: %s", win::error_text(::GetLastError()).c_str());
  }
}

void report(DWORD state, DWORD wait_hint) {
  std::lock_guard<std::mutex> hold(g_service.lock);
  report_locked(state, wait_hint);
}

DWORD WINAPI on_control(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
    case SERVICE_CONTROL_PRESHUTDOWN: {
      std::lock_guard<std::mutex> hold(g_service.lock);
      if (g_service.status.dwCurrentState != SERVICE_STOPPED) {
        LOG_INFO("service control %s: stopping",
                 control == SERVICE_CONTROL_STOP ? "stop" : control == SERVICE_CONTROL_SHUTDOWN ? "shutdown"
                                                                                                  : "preshutdown");
        report_locked(SERVICE_STOP_PENDING, kStopWaitHintMs);
        g_service.stop = 1;
      }
      return NO_ERROR;
    }
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

void WINAPI service_main(DWORD, wchar_t**) {
  g_service.handle = ::RegisterServiceCtrlHandlerExW(kServiceName, on_control, nullptr);
  if (g_service.handle == nullptr) {
    LOG_ERROR("RegisterServiceCtrlHandlerEx: %s", win::error_text(::GetLastError()).c_str());
    g_service.exit_code = 1;
    return;
  }
  report(SERVICE_START_PENDING, kStartWaitHintMs);
  const int code = (*g_service.body)(&g_service.stop, [] {
    // Which account the service has decides whether --task-user applies.
    LOG_INFO("service account %s: %s", win::process_user_sid().c_str(),
             win::running_as_local_system() ? "LocalSystem, tasks run as --task-user"
                                            : "not LocalSystem, tasks run as this account (--task-user ignored)");
    std::lock_guard<std::mutex> hold(g_service.lock);
    // A stop that came during the start stays STOP_PENDING.
    if (g_service.status.dwCurrentState == SERVICE_START_PENDING) report_locked(SERVICE_RUNNING, 0);
  });
  std::lock_guard<std::mutex> hold(g_service.lock);
  if (g_service.status.dwCurrentState != SERVICE_STOP_PENDING) report_locked(SERVICE_STOP_PENDING, kStopWaitHintMs);
  g_service.exit_code = code;
  // After STOPPED the SCM may end the process at any time: nothing follows.
  report_locked(SERVICE_STOPPED, 0);
}

}  // namespace

bool run_as_service(const ServiceBody& body, int& exit_code, std::string& error) {
  g_service.body = &body;
  SERVICE_TABLE_ENTRYW table[] = {{kServiceName, service_main}, {nullptr, nullptr}};
  // Returns once every service of this process has reported STOPPED.
  if (!::StartServiceCtrlDispatcherW(table)) {
    const DWORD e = ::GetLastError();
    error = e == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT
                ? "not started by the Service Control Manager (install it with sc create or the MSI; "
                  "in a console use `muster-agent run`)"
                : "StartServiceCtrlDispatcher: " + win::error_text(e);
    return false;
  }
  exit_code = g_service.exit_code;
  return true;
}

}  // namespace muster::agent::platform
