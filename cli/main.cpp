// muster: the operators' command line of a Muster hub. Finds the command,
// parses its options, runs it, and turns failures into the exit codes of
// errors.hpp (documented in docs/cli.md and `muster help`); nothing else
// decides the exit status.
#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.hpp"
#include "errors.hpp"

namespace {

using namespace muster::cli;

const Command* find_command(const std::vector<std::string>& words, std::size_t& used) {
  for (const auto& c : all_commands()) {
    if (words.size() >= 2 && c.name == words[0] + " " + words[1]) {
      used = 2;
      return &c;
    }
  }
  for (const auto& c : all_commands()) {
    if (!words.empty() && c.name == words[0]) {
      used = 1;
      return &c;
    }
  }
  return nullptr;
}

// The verbs of a group ("tokens" -> "create, list, revoke"), for a message.
std::string verbs_of(const std::string& group) {
  std::string verbs;
  for (const auto& c : all_commands()) {
    const std::string name = c.name;
    if (name.rfind(group + " ", 0) == 0) verbs += (verbs.empty() ? "" : ", ") + name.substr(group.size() + 1);
  }
  return verbs;
}

int help(const std::vector<std::string>& words) {
  std::size_t used = 0;
  if (words.empty()) {
    std::fputs(overview_help().c_str(), stdout);
    return kExitOk;
  }
  const Command* c = find_command(words, used);
  if (c == nullptr) throw usage_error("no command \"" + words[0] + "\"; `muster help` lists them");
  std::fputs(command_help(*c).c_str(), stdout);
  return kExitOk;
}

// Common options may come before the command too (muster --profile lab
// agents): they move behind it, where the command's parser reads them.
std::vector<std::string> common_options_last(const std::vector<std::string>& args) {
  std::vector<std::string> leading, rest;
  std::size_t i = 0;
  while (i < args.size() && args[i].rfind("--", 0) == 0 && args[i] != "--help") {
    const std::string name = args[i].substr(0, args[i].find('='));
    const auto& common = common_options();
    const auto spec = std::find_if(common.begin(), common.end(), [&](const OptionSpec& s) { return name == s.name; });
    if (spec == common.end()) break;
    leading.push_back(args[i++]);
    if (spec->value_name != nullptr && name == args[i - 1] && i < args.size()) leading.push_back(args[i++]);
  }
  rest.assign(args.begin() + static_cast<long>(i), args.end());
  // After the command's own words, before any "--" of `run`.
  const auto dashdash = std::find(rest.begin(), rest.end(), "--");
  rest.insert(dashdash, leading.begin(), leading.end());
  return rest;
}

int run(const std::vector<std::string>& raw_args) {
  const std::vector<std::string> args = common_options_last(raw_args);
  if (args.empty()) {
    std::fputs(overview_help().c_str(), stderr);
    return kExitUsage;
  }
  if (args[0] == "help" || args[0] == "--help" || args[0] == "-h") return help({args.begin() + 1, args.end()});
  if (args[0] == "version" || args[0] == "--version") {
    std::printf("muster %s\n", MUSTER_VERSION);
    return kExitOk;
  }
  std::size_t used = 0;
  const Command* command = find_command(args, used);
  if (command == nullptr) {
    const std::string verbs = verbs_of(args[0]);
    if (!verbs.empty()) throw usage_error("muster " + args[0] + " needs one of: " + verbs);
    throw usage_error("no command \"" + args[0] + "\"; `muster help` lists them");
  }
  std::vector<OptionSpec> specs = command->options;
  specs.insert(specs.end(), common_options().begin(), common_options().end());
  Invocation invocation(parse_options(specs, {args.begin() + static_cast<long>(used), args.end()}));
  if (invocation.options().has("--help")) {
    std::fputs(command_help(*command).c_str(), stdout);
    return kExitOk;
  }
  return command->run(invocation);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run({argv + 1, argv + argc});
  } catch (const CliError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "muster: %s\n", e.what());
    if (e.exit_code() == kExitUsage) std::fprintf(stderr, "(`muster help` lists commands and options)\n");
    return e.exit_code();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "muster: internal error: %s\n", e.what());
    return kExitInternal;
  }
}
