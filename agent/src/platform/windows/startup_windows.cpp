#include <windows.h>

#include "platform/startup.hpp"
#include "platform/windows/win_text.hpp"

namespace muster::agent::platform {
namespace {

volatile std::sig_atomic_t* g_stop_flag = nullptr;

// Runs on a thread the system creates for the console event.
BOOL WINAPI on_console_event(DWORD event) {
  switch (event) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
    case CTRL_CLOSE_EVENT:
    case CTRL_SHUTDOWN_EVENT:
      if (g_stop_flag != nullptr) *g_stop_flag = 1;
      return TRUE;
    default:
      return FALSE;
  }
}

}  // namespace

void prepare_process() {
  // No error dialogs (missing media, crashes) for an unattended agent or
  // the tasks it starts; they inherit the mode.
  ::SetErrorMode(SEM_FAILCRITICALERRORS | SEM_NOGPFAULTERRORBOX | SEM_NOOPENFILEERRORBOX);
}

void on_stop_request(volatile std::sig_atomic_t* flag) {
  g_stop_flag = flag;
  ::SetConsoleCtrlHandler(on_console_event, TRUE);
}

std::string default_state_dir() {
  wchar_t buffer[MAX_PATH] = {};
  const DWORD n = ::GetEnvironmentVariableW(L"ProgramData", buffer, MAX_PATH);
  const std::wstring base = n > 0 && n < MAX_PATH ? std::wstring(buffer, n) : std::wstring(L"C:\\ProgramData");
  return win::narrow(base) + "\\Muster\\agent";
}

// A LocalSystem service can start tasks as this built-in account without a
// password (process_windows.cpp).
std::string default_task_user() { return "LocalService"; }

}  // namespace muster::agent::platform
