#pragma once
// `muster run`'s command line turned into the body of POST /api/v1/jobs
// (docs/api.md). Pure: no network, so unit tests pin every rule.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "muster/proto/json.hpp"
#include "options.hpp"

namespace muster::cli {

struct RunRequest {
  bool all = false;
  proto::StringMap labels;
  std::vector<std::string> agents;  // UUIDs, or host names until resolved
  std::vector<std::string> regions;
  std::optional<std::string> concurrency;   // "10" or "25%"
  std::optional<std::string> max_failures;  // "3" or "5%"
  std::optional<std::int64_t> timeout_s;
  std::optional<std::int64_t> deadline_s;
  std::string command;  // the words after "--", joined by spaces; run by /bin/sh -c
};

// The options `muster run` takes.
const std::vector<OptionSpec>& run_option_specs();

// Throws CliError(kExitUsage) naming what is wrong: no command, no target,
// --all with other targets, a malformed count or percentage.
RunRequest parse_run_request(const ParsedOptions& options);

// "10" or "25%": a count from 1, or a percentage from 1 to 100.
bool valid_count_or_percent(const std::string& text);

// The JSON body for POST /api/v1/jobs.
std::string job_request_json(const RunRequest& request);

// True for the 8-4-4-4-12 hex form of a UUID (agents are named by these).
bool looks_like_uuid(const std::string& text);

}  // namespace muster::cli
