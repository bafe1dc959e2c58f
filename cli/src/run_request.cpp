#include "run_request.hpp"

#include <cctype>

#include "errors.hpp"

namespace muster::cli {

const std::vector<OptionSpec>& run_option_specs() {
  static const std::vector<OptionSpec> specs = {
      {"--all", nullptr, "every agent of the tenant"},
      {"--label", "K=V", "agents with this label (all given labels must match)", true},
      {"--agent", "ID", "this agent, by UUID or host name", true},
      {"--region", "R", "agents of this region", true},
      {"--concurrency", "N|P%", "at most this many tasks running at once"},
      {"--max-failures", "N|P%", "after this many failed tasks, dispatch nothing more (the rest: skipped)"},
      {"--timeout", "S", "kill a task after S seconds (default 300)"},
      {"--deadline", "S", "a task whose agent stays offline S seconds ends expired (default 3600)"},
      {"--dry-run", nullptr, "show the agents the targets resolve to; run nothing"},
      {"--cancel-on-interrupt", nullptr, "Ctrl-C cancels the job without asking"},
  };
  return specs;
}

bool valid_count_or_percent(const std::string& text) {
  std::string digits = text;
  const bool percent = !digits.empty() && digits.back() == '%';
  if (percent) digits.pop_back();
  if (digits.empty() || digits.size() > 9) return false;
  for (char c : digits) {
    if (std::isdigit(static_cast<unsigned char>(c)) == 0) return false;
  }
  const long value = std::stol(digits);
  return value >= 1 && (!percent || value <= 100);
}

bool looks_like_uuid(const std::string& text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : std::isxdigit(static_cast<unsigned char>(text[i])) == 0) return false;
  }
  return true;
}

RunRequest parse_run_request(const ParsedOptions& o) {
  RunRequest r;
  if (!o.positional.empty()) {
    throw usage_error("put the command after \"--\": muster run --all -- " + o.positional.front());
  }
  for (const auto& word : o.after_dashdash) r.command += (r.command.empty() ? "" : " ") + word;
  if (r.command.empty()) throw usage_error("no command: muster run TARGETS -- COMMAND");
  r.all = o.has("--all");
  r.agents = o.all("--agent");
  r.regions = o.all("--region");
  for (const auto& label : o.all("--label")) {
    const auto eq = label.find('=');
    if (eq == std::string::npos || eq == 0) throw usage_error("--label takes KEY=VALUE, not \"" + label + "\"");
    r.labels[label.substr(0, eq)] = label.substr(eq + 1);
  }
  const bool narrowed = !r.agents.empty() || !r.regions.empty() || !r.labels.empty();
  if (!r.all && !narrowed) throw usage_error("no targets: give --all, --label K=V, --agent ID or --region R");
  if (r.all && narrowed) throw usage_error("--all runs everywhere; leave out --label, --agent and --region");
  for (const char* name : {"--concurrency", "--max-failures"}) {
    if (!o.has(name)) continue;
    const std::string value = o.value(name);
    if (!valid_count_or_percent(value)) {
      throw usage_error(std::string(name) + " takes a count (10) or a percentage (25%), not \"" + value + "\"");
    }
    (std::string(name) == "--concurrency" ? r.concurrency : r.max_failures) = value;
  }
  if (o.has("--timeout")) r.timeout_s = parse_int_option("--timeout", o.value("--timeout"), 1, 86400);
  if (o.has("--deadline")) r.deadline_s = parse_int_option("--deadline", o.value("--deadline"), 1, std::int64_t{30} * 86400);
  return r;
}

std::string job_request_json(const RunRequest& r) {
  proto::JsonBuilder targets;
  if (r.all) targets.add("all", true);
  if (!r.agents.empty()) targets.add("agents", r.agents);
  if (!r.labels.empty()) targets.add("labels", r.labels);
  if (!r.regions.empty()) targets.add("regions", r.regions);
  proto::JsonBuilder body;
  body.add("command", r.command).add_node("targets", targets.release());
  if (r.timeout_s) body.add("timeout_s", static_cast<std::int64_t>(*r.timeout_s));
  if (r.deadline_s) body.add("deadline_s", static_cast<std::int64_t>(*r.deadline_s));
  // A count goes as a number, a percentage as the string the API parses.
  auto count_or_percent = [&body](const char* key, const std::optional<std::string>& value) {
    if (!value) return;
    if (value->back() == '%') {
      body.add(key, *value);
    } else {
      body.add(key, static_cast<std::int64_t>(std::stol(*value)));
    }
  };
  count_or_percent("concurrency", r.concurrency);
  count_or_percent("max_failures", r.max_failures);
  return body.dump();
}

}  // namespace muster::cli
