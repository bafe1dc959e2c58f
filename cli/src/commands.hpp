#pragma once
// The commands of `muster`, declared as data: name, synopsis, help and
// options. main() finds the command, parses its options and runs it; `muster
// help` and `muster CMD --help` print the same declarations.
#include <memory>
#include <string>
#include <vector>

#include "api_client.hpp"
#include "options.hpp"

namespace muster::cli {

// What a command gets: its parsed options and, on first use, a client of the
// hub chosen by the profile options every command takes.
class Invocation {
 public:
  explicit Invocation(ParsedOptions options) : options_(std::move(options)) {}
  const ParsedOptions& options() const { return options_; }
  bool json() const { return options_.has("--json"); }
  ApiClient& api();

 private:
  ParsedOptions options_;
  std::unique_ptr<ApiClient> api_;
};

struct Command {
  const char* name;      // "agents", or a verb of a group: "tokens create"
  const char* synopsis;  // what follows the name in the usage line
  const char* summary;   // one line for `muster help`
  const char* details;   // paragraphs for `muster CMD --help`
  std::vector<OptionSpec> options;
  int (*run)(Invocation&);
};

const std::vector<Command>& all_commands();
// Options every command takes (profile, --url, --ca, --json).
const std::vector<OptionSpec>& common_options();

// The commands of each area, defined beside their code.
std::vector<Command> agent_commands();
std::vector<Command> job_commands();
std::vector<Command> run_commands();
std::vector<Command> admin_commands();

// `muster help` and `muster CMD --help`.
std::string overview_help();
std::string command_help(const Command& command);

}  // namespace muster::cli
