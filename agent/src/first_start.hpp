#pragma once
// Enrollment on the first start of an unattended install: the package's
// service starts `muster-agent run --config FILE` before anyone enrolled the
// machine by hand.
#include <csignal>
#include <string>

namespace muster::agent {

// With a state file in `state_dir`: returns true at once (an enrolled agent
// never enrolls again). Without one: enrolls with hub_url, ca_file, labels and
// enroll_token from `config_path` (re-read before every attempt, so fixing the
// file needs no restart), then empties enroll_token in that file. A refused
// token or an unreachable hub is logged with the reason and retried after a
// growing delay (10 s doubling up to 10 min), never a crash loop. Returns
// false only when *stop became non-zero first.
bool enroll_on_first_start(const std::string& config_path, const std::string& state_dir,
                           const volatile std::sig_atomic_t* stop);

}  // namespace muster::agent
