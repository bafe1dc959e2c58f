// muster run: submit a job, follow it to its end, say how it went.
#include "commands.hpp"
#include "display.hpp"
#include "errors.hpp"
#include "queries.hpp"
#include "run_request.hpp"
#include "terminal.hpp"
#include "run_view.hpp"
#include "watch.hpp"

namespace muster::cli {
namespace {

// --agent takes a host name too: it must name exactly one agent.
void resolve_hostnames(RunRequest& request, const Hostnames& names) {
  for (auto& agent : request.agents) {
    if (looks_like_uuid(agent)) continue;
    std::string found;
    for (const auto& [id, hostname] : names) {
      if (hostname != agent) continue;
      if (!found.empty()) throw usage_error("--agent " + agent + ": several agents have this host name; use its ID");
      found = id;
    }
    if (found.empty()) throw usage_error("--agent " + agent + ": no agent has this ID or host name");
    agent = found;
  }
}

int dry_run(Invocation& in, const std::string& body, const Hostnames& names) {
  const std::string raw = in.api().call_raw("POST", "/api/v1/jobs?dry_run=1", body);
  const Hostnames shown = display_names(names);
  if (in.json()) {
    std::printf("%s\n", raw.c_str());
    return kExitOk;
  }
  auto answer = proto::parse_object(raw);
  const cJSON* agents = answer ? cJSON_GetObjectItemCaseSensitive(answer->get(), "agents") : nullptr;
  Table table({"ID", "HOSTNAME"});
  for (const cJSON* a = cJSON_IsArray(agents) ? agents->child : nullptr; a != nullptr; a = a->next) {
    const std::string id = cJSON_IsString(a) ? a->valuestring : "";
    table.add({id, host_or_id(shown, id)});
  }
  table.print(stdout);
  std::printf("would run on %zu %s (dry run: nothing submitted)\n", table.rows(), table.rows() == 1 ? "agent" : "agents");
  return kExitOk;
}

int run_job(Invocation& in) {
  RunRequest request = parse_run_request(in.options());
  chosen_show(in.options());  // a usage error before anything is submitted
  Hostnames names = agent_hostnames(in.api());
  resolve_hostnames(request, names);
  const std::string body = job_request_json(request);
  if (in.options().has("--dry-run")) return dry_run(in, body, names);

  install_interrupt_flag();  // from here on Ctrl-C must not lose track of the job
  auto submitted = in.api().call("POST", "/api/v1/jobs", body);
  const auto total = static_cast<std::size_t>(field_number(submitted.get(), "tasks"));
  return watch_job(in, field_text(submitted.get(), "id"), total, names);
}

std::vector<OptionSpec> run_and_show_options() {
  std::vector<OptionSpec> specs = run_option_specs();
  specs.push_back(show_option());
  return specs;
}

}  // namespace

std::vector<Command> run_commands() {
  return {
      {"run", "TARGETS [OPTIONS] -- COMMAND...",
       "run a command on agents and follow it: live progress, each host's output, a summary",
       "TARGETS: --all, or any of --label K=V, --agent ID|HOSTNAME, --region R (repeatable;\n"
       "an agent runs the job if it is listed by --agent or matches every --label and --region).\n"
       "The words after \"--\" are joined by spaces and run by /bin/sh -c on each agent,\n"
       "as ssh does: quote what the remote shell should see, e.g. -- 'echo $HOSTNAME'.\n\n"
       "On a terminal a progress line (done/total, succeeded, failed, running, rate, ETA)\n"
       "is redrawn in place; each task's output is printed when it ends, every line\n"
       "prefixed by the host name (the task's stderr on stderr); then a summary. When\n"
       "stdout is not a terminal the same comes as plain lines; --json prints one JSON\n"
       "object a line: submitted, state, output, result (one per task) and end.\n"
       "A dropped event stream is resumed where it stopped. The output shown is what the\n"
       "agent streams live, the head of each task's output; `muster job ID --output` prints\n"
       "the kept head and tail of long output.\n\n"
       "Ctrl-C asks whether to cancel the job (running tasks are killed); answering no\n"
       "leaves it running (exit 130; `muster job ID --follow` picks it up again). Exit: 0 all tasks succeeded, 1 some did not,\n"
       "5 cancelled; see `muster help` for the others.\n",
       run_and_show_options(),
       run_job},
  };
}

}  // namespace muster::cli
