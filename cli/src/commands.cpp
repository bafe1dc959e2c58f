#include "commands.hpp"

#include "errors.hpp"
#include "profile.hpp"

namespace muster::cli {

ApiClient& Invocation::api() {
  if (!api_) {
    ProfileChoice choice{options_.value("--profile"), options_.value("--url"), options_.value("--ca")};
    api_ = std::make_unique<ApiClient>(load_profile(choice));
  }
  return *api_;
}

const std::vector<OptionSpec>& common_options() {
  static const std::vector<OptionSpec> options = {
      {"--profile", "NAME", "profile of the config file (default: $MUSTER_PROFILE, else \"default\")"},
      {"--url", "URL", "hub URL (overrides $MUSTER_URL and the profile)"},
      {"--ca", "FILE", "CA certificate the hub's certificate must verify against (overrides $MUSTER_CA)"},
      {"--json", nullptr, "machine-readable output: JSON"},
  };
  return options;
}

const std::vector<Command>& all_commands() {
  static const std::vector<Command> commands = [] {
    std::vector<Command> all;
    for (auto part : {agent_commands, run_commands, job_commands, admin_commands}) {
      for (auto& c : part()) all.push_back(std::move(c));
    }
    return all;
  }();
  return commands;
}

std::string overview_help() {
  std::string text =
      "muster: run commands on a fleet through a Muster hub\n\n"
      "usage: muster COMMAND [OPTIONS]\n\ncommands:\n";
  std::size_t width = 0;
  for (const auto& c : all_commands()) width = std::max(width, std::string(c.name).size());
  for (const auto& c : all_commands()) {
    text += "  " + std::string(c.name) + std::string(width - std::string(c.name).size() + 2, ' ') + c.summary + "\n";
  }
  text +=
      "  help" + std::string(width - 2, ' ') + "this text; `muster help COMMAND` or `muster COMMAND --help` for one\n"
      "\nWhere the hub is: ~/.config/muster/config (INI, one [PROFILE] per hub: url, ca_file,\n"
      "token_file), overridden by $MUSTER_URL, $MUSTER_CA, $MUSTER_TOKEN, then --url and --ca.\n"
      "\nexit status: 0 success; 1 a job ended with tasks that did not succeed; 2 usage or\n"
      "profile error; 3 the hub refused (its error code is shown); 4 the hub could not be\n"
      "reached (network, TLS, CA file); 5 the job was cancelled; 70 a bug in muster; 130 interrupted, job left running.\n";
  return text;
}

std::string command_help(const Command& c) {
  const std::string synopsis = c.synopsis[0] != '\0' ? std::string(" ") + c.synopsis : "";
  std::string text = "usage: muster " + std::string(c.name) + synopsis + "\n\n" + c.summary + "\n";
  if (c.details[0] != '\0') text += "\n" + std::string(c.details);
  if (!c.options.empty()) text += "\noptions:\n" + options_help(c.options);
  text += "\ncommon options:\n" + options_help(common_options());
  return text;
}

}  // namespace muster::cli
