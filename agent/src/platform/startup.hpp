#pragma once
// Process-wide setup, called by main() before anything else runs.
#include <csignal>
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

}  // namespace muster::agent::platform
