#include <signal.h>

#include "platform/posix/name_lookup.hpp"
#include "platform/startup.hpp"

namespace muster::agent::platform {
namespace {

volatile std::sig_atomic_t* g_stop_flag = nullptr;

void request_stop(int) {
  if (g_stop_flag != nullptr) *g_stop_flag = 1;
}

}  // namespace

void prepare_process() {
  // libstrophe writes without MSG_NOSIGNAL: a dead peer must not kill us.
  ::signal(SIGPIPE, SIG_IGN);
  configure_name_lookup();
}

void on_stop_request(volatile std::sig_atomic_t* flag) {
  g_stop_flag = flag;
  struct sigaction stop_action {};
  stop_action.sa_handler = request_stop;
  sigemptyset(&stop_action.sa_mask);
  ::sigaction(SIGTERM, &stop_action, nullptr);
  ::sigaction(SIGINT, &stop_action, nullptr);
}

std::string default_state_dir() { return "/var/lib/muster-agent"; }

std::string default_task_user() { return "nobody"; }

bool run_as_service(const ServiceBody&, int&, std::string& error) {
  error = "the service command is for Windows; systemd and launchd run `muster-agent run` directly";
  return false;
}

}  // namespace muster::agent::platform
