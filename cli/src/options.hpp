#pragma once
// Command-line options declared as data: each command lists its options
// once, and the parser and the help text are made from that list.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace muster::cli {

struct OptionSpec {
  const char* name;        // "--label"
  const char* value_name;  // "K=V"; nullptr for a flag without a value
  const char* help;
  bool repeatable = false;
};

struct ParsedOptions {
  std::map<std::string, std::vector<std::string>> values;  // flags map to {""}
  std::vector<std::string> positional;
  std::vector<std::string> after_dashdash;  // everything after "--"
  bool saw_dashdash = false;

  bool has(const std::string& name) const { return values.count(name) != 0; }
  // The value of a single-valued option, or `fallback`.
  std::string value(const std::string& name, const std::string& fallback = "") const;
  const std::vector<std::string>& all(const std::string& name) const;
};

// Parses `--name value`, `--name=value` and flags; "--help"/"-h" are always
// known (as the flag "--help"). Throws CliError(kExitUsage) on an unknown
// option, a missing value or a repeated single option.
ParsedOptions parse_options(const std::vector<OptionSpec>& specs, const std::vector<std::string>& args);

// "  --label K=V     help" lines, aligned.
std::string options_help(const std::vector<OptionSpec>& specs);

// Integer in [min, max] for option `name`; throws CliError(kExitUsage).
// 64 bits on every target: long is 32 on armhf.
std::int64_t parse_int_option(const std::string& name, const std::string& text, std::int64_t min, std::int64_t max);

}  // namespace muster::cli
