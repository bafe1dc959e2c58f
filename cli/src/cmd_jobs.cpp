// muster jobs, muster job ID, muster cancel ID.
#include <ctime>

#include "commands.hpp"
#include "display.hpp"
#include "errors.hpp"
#include "progress.hpp"
#include "queries.hpp"
#include "run_view.hpp"
#include "watch.hpp"
#include "terminal.hpp"

namespace muster::cli {
namespace {

std::size_t output_width() { return stdout_is_terminal() ? terminal_width() : 0; }

std::string job_command(const cJSON* job) {
  std::string command = field_text(job, "command");
  if (!command.empty()) return command;
  const cJSON* argv = cJSON_GetObjectItemCaseSensitive(job, "argv");
  for (const cJSON* a = cJSON_IsArray(argv) ? argv->child : nullptr; a != nullptr; a = a->next) {
    command += (command.empty() ? "" : " ") + std::string(cJSON_IsString(a) ? a->valuestring : "");
  }
  return command;
}

// Unsuccessful final tasks: failed, timed out, cancelled, expired, skipped.
std::size_t not_succeeded(const cJSON* job) {
  const cJSON* counts = cJSON_GetObjectItemCaseSensitive(job, "counts");
  double n = 0;
  for (const char* state : {"failed", "timed_out", "cancelled", "expired", "skipped"}) n += field_number(counts, state);
  return static_cast<std::size_t>(n);
}

int list_jobs(Invocation& in) {
  const std::int64_t limit = parse_int_option("--limit", in.options().value("--limit", "20"), 1, 1000);
  const std::string raw = in.api().call_raw("GET", "/api/v1/jobs?limit=" + std::to_string(limit));
  if (in.json()) {
    std::printf("%s\n", raw.c_str());
    return kExitOk;
  }
  auto answer = proto::parse_object(raw);
  if (!answer) throw CliError(kExitApiError, "GET /api/v1/jobs: bad answer: " + answer.error().message);
  const cJSON* jobs = cJSON_GetObjectItemCaseSensitive(answer->get(), "jobs");
  Table table({"ID", "STATE", "CREATED (UTC)", "TASKS", "OK", "NOT OK", "COMMAND"});
  for (const cJSON* j = cJSON_IsArray(jobs) ? jobs->child : nullptr; j != nullptr; j = j->next) {
    const cJSON* counts = cJSON_GetObjectItemCaseSensitive(j, "counts");
    table.add({field_text(j, "id"), field_text(j, "state"), time_text(field_number(j, "created_at")),
               field_text(j, "total"), field_text(counts, "succeeded"), std::to_string(not_succeeded(j)),
               job_command(j)});
  }
  table.print(stdout, output_width());
  return kExitOk;
}

void print_job_header(const cJSON* job) {
  StateCounts counts;
  const cJSON* c = cJSON_GetObjectItemCaseSensitive(job, "counts");
  for (const cJSON* n = cJSON_IsObject(c) ? c->child : nullptr; n != nullptr; n = n->next) {
    if (cJSON_IsNumber(n) && n->valuedouble >= 0) counts[n->string] = static_cast<std::size_t>(n->valuedouble);
  }
  const double created = field_number(job, "created_at");
  const double finished = field_number(job, "finished_at");
  const double now = static_cast<double>(std::time(nullptr));
  std::printf("job:      %s\nstate:    %s\ncommand:  %s\ncreated:  %s UTC\n", field_text(job, "id").c_str(),
              field_text(job, "state").c_str(), job_command(job).c_str(), time_text(created).c_str());
  if (finished > 0) std::printf("finished: %s UTC\n", time_text(finished).c_str());
  const auto total = static_cast<std::size_t>(field_number(job, "total"));
  std::printf("tasks:    %s\n", format_summary(counts, total, (finished > 0 ? finished : now) - created).c_str());
}

void print_task_output(const cJSON* task, const std::string& host) {
  print_prefixed(stdout, host + ": ", field_text(task, "stdout"));
  std::fflush(stdout);
  print_prefixed(stderr, host + ": ", field_text(task, "stderr"));
  if (field_text(task, "truncated") == "yes") {
    std::printf("%s: [output cut to its head and tail: %s stdout and %s stderr bytes dropped]\n", host.c_str(),
                field_text(task, "stdout_dropped").c_str(), field_text(task, "stderr_dropped").c_str());
  }
}

int show_job(Invocation& in) {
  const auto& ids = in.options().positional;
  if (ids.size() != 1) throw usage_error("muster job takes one job ID");
  auto job = in.api().call("GET", "/api/v1/jobs/" + ids[0]);
  if (in.options().has("--follow")) {
    return watch_job(in, ids[0], static_cast<std::size_t>(field_number(job.get(), "total")),
                     agent_hostnames(in.api()));
  }
  proto::JsonPtr tasks(cJSON_CreateArray());
  for_each_task(in.api(), ids[0], [&](cJSON* t) { cJSON_AddItemToArray(tasks.get(), cJSON_Duplicate(t, true)); });
  if (in.json()) {
    proto::JsonBuilder out;
    out.add_node("job", proto::JsonPtr(cJSON_Duplicate(job.get(), true))).add_node("tasks", std::move(tasks));
    std::printf("%s\n", out.dump().c_str());
    return kExitOk;
  }
  const Hostnames names = display_names(agent_hostnames(in.api()));
  auto host_of = [&names](const std::string& id) { return host_or_id(names, id); };
  print_job_header(job.get());
  if (in.options().has("--output")) {
    for (const cJSON* t = tasks->child; t != nullptr; t = t->next) print_task_output(t, host_of(field_text(t, "agent_id")));
    return kExitOk;
  }
  Table table({"HOSTNAME", "AGENT", "STATE", "EXIT", "DURATION", "ERROR"});
  for (const cJSON* t = tasks->child; t != nullptr; t = t->next) {
    const std::string ms = field_text(t, "duration_ms");
    table.add({host_of(field_text(t, "agent_id")), field_text(t, "agent_id"), field_text(t, "state"),
               field_text(t, "exit_code"), ms.empty() ? "" : format_duration(std::stod(ms) / 1000),
               field_text(t, "error")});
  }
  std::printf("\n");
  table.print(stdout, output_width());
  return kExitOk;
}

int cancel(Invocation& in) {
  const auto& ids = in.options().positional;
  if (ids.size() != 1) throw usage_error("muster cancel takes one job ID");
  const std::string raw = in.api().call_raw("POST", "/api/v1/jobs/" + ids[0] + "/cancel");
  if (in.json()) {
    std::printf("%s\n", raw.c_str());
    return kExitOk;
  }
  std::printf("job %s: cancel requested; nothing more is dispatched and running tasks are killed\n", ids[0].c_str());
  return kExitOk;
}

}  // namespace

std::vector<Command> job_commands() {
  return {
      {"jobs", "[--limit N]", "list recent jobs, newest first", "", {{"--limit", "N", "at most N jobs (default 20)"}},
       list_jobs},
      {"job", "ID [--output | --follow]", "show a job: state, counts and each task (host, state, exit code, duration)",
       "--output prints each task's kept output instead, every line prefixed by the host\n"
       "name (stderr on stderr). --follow shows the job as `muster run` does, from its\n"
       "start to its end, with the same views, Ctrl-C and exit statuses.\n",
       {{"--output", nullptr, "print each task's output"},
        {"--follow", nullptr, "follow the job to its end, as muster run does"},
        {"--cancel-on-interrupt", nullptr, "with --follow: Ctrl-C cancels the job without asking"},
        show_option()},
       show_job},
      {"cancel", "ID", "cancel a job: nothing more is dispatched, running tasks are killed",
       "A job that already finished is a conflict (exit 3).\n", {}, cancel},
  };
}

}  // namespace muster::cli
