#pragma once
// ProcessSpec::run_as_user on Windows. A LocalSystem service can log on the
// built-in service accounts without a password (LogonUserW with
// LOGON32_LOGON_SERVICE), so those are the accounts a task can run as; any
// other name is refused rather than silently run as SYSTEM. An agent that is
// not LocalSystem runs every task as itself, as an unprivileged POSIX agent
// does.
#include <string>

namespace muster::agent::platform::win {

struct RunAs {
  std::wstring account;  // user name for LogonUserW in "NT AUTHORITY"; empty: the agent's own account
  std::string error;     // non-empty: the task must not run
};

// `run_as_user` as given (--task-user): "LocalService", "Local Service",
// "NetworkService", "Network Service", each optionally prefixed with
// "NT AUTHORITY\", in any letter case.
RunAs plan_run_as(const std::string& run_as_user, bool agent_is_local_system);

// True when this process's token user is LocalSystem (S-1-5-18).
bool running_as_local_system();
// This process's token user as an SID string ("S-1-5-18"), for the log.
std::string process_user_sid();

}  // namespace muster::agent::platform::win
