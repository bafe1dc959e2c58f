#pragma once
// Following a job to its end with the run views: `muster run` after it
// submits, and `muster job ID --follow` for a job already running.
#include <cstddef>
#include <string>

#include "commands.hpp"
#include "queries.hpp"

namespace muster::cli {

// Shows the job's events (terminal, plain or --json view) until it ends,
// then the summary; returns the exit status of docs/cli.md (0 all
// succeeded, 1 some did not, 5 cancelled, 130 left running after Ctrl-C).
// Ctrl-C asks whether to cancel, or cancels with --cancel-on-interrupt.
// `names` are the agents' host names as GET /api/v1/agents gives them.
int watch_job(Invocation& in, const std::string& job_id, std::size_t total, const Hostnames& names);

}  // namespace muster::cli
