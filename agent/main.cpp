// muster-agent: enroll this machine with a hub, then run tasks from its master.
// Exit codes (documented in docs/commands.md) are decided here only.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "agent.hpp"
#include "agent_config.hpp"
#include "enroll.hpp"
#include "first_start.hpp"
#include "log.hpp"
#include "platform/fs.hpp"
#include "platform/startup.hpp"
#include "version.hpp"

namespace {

using namespace muster::agent;

enum ExitCode { kOk = 0, kFailure = 1, kUsage = 2, kNoState = 3 };

volatile std::sig_atomic_t g_stop = 0;

int usage(const char* problem) {
  if (problem != nullptr) std::fprintf(stderr, "muster-agent: %s\n\n", problem);
  std::fprintf(stderr,
               "usage:\n"
               "  muster-agent enroll --hub URL --token TOKEN [--ca FILE] [--label KEY=VALUE ...] [--state-dir DIR]\n"
               "  muster-agent run [--config FILE] [--state-dir DIR] [--task-user USER]\n"
               "                   [--log-level error|warn|info|debug] [--log-format text|json]\n"
               "  muster-agent service [--config FILE] [--state-dir DIR] [--task-user USER]\n"
               "                   [--log-level error|warn|info|debug] [--log-format text|json]\n"
               "  muster-agent version\n"
               "\nDefault state directory: %s\nDefault task user: %s\n"
               "\nKeys of the --config file (key = value):\n%s",
               platform::default_state_dir().c_str(), platform::default_task_user().c_str(),
               agent_config_reference().c_str());
  return kUsage;
}

struct Args {
  std::string config;  // --config: defaults for the flags, and enrollment on first start
  std::string hub, token, ca, state_dir = platform::default_state_dir(), log_level = "info", log_format = "text";
  // A privileged agent (root; LocalSystem on Windows) runs tasks as this
  // account unless a task is signed as_root.
  std::string task_user = platform::default_task_user();
  muster::proto::StringMap labels;
};

// Parses "--name value" pairs; returns an error text or empty.
std::string parse_args(const std::vector<std::string>& argv, Args& args) {
  for (std::size_t i = 0; i < argv.size(); ++i) {
    const std::string& flag = argv[i];
    if (i + 1 >= argv.size()) return flag + " needs a value";
    const std::string& value = argv[++i];
    if (flag == "--hub") {
      args.hub = value;
    } else if (flag == "--token") {
      args.token = value;
    } else if (flag == "--ca") {
      args.ca = value;
    } else if (flag == "--config") {
      args.config = value;
    } else if (flag == "--state-dir") {
      args.state_dir = value;
    } else if (flag == "--task-user") {
      args.task_user = value;
    } else if (flag == "--log-level") {
      args.log_level = value;
    } else if (flag == "--log-format") {
      args.log_format = value;
    } else if (flag == "--label") {
      const auto eq = value.find('=');
      const std::string key = value.substr(0, eq);
      const std::string val = eq == std::string::npos ? "" : value.substr(eq + 1);
      if (eq == std::string::npos || !muster::proto::valid_label_key(key) || !muster::proto::valid_label_value(val)) {
        return "--label wants KEY=VALUE (key: 1-63 of A-Z a-z 0-9 _ . -; value: printable ASCII)";
      }
      args.labels[key] = val;
    } else {
      return "unknown option " + flag;
    }
  }
  return {};
}

// With --config FILE, the file's state_dir, task_user and log_level replace
// the defaults; flags on the command line still win. A file that does not
// exist yet is no error (the Windows installer cannot ship one that survives
// upgrades): enrollment then says so in the log and waits for it. Returns an
// error text or empty.
std::string parse_args_with_config(const std::vector<std::string>& argv, Args& args) {
  if (auto problem = parse_args(argv, args); !problem.empty() || args.config.empty()) return problem;
  if (!platform::file_exists(args.config)) return {};
  auto config = load_agent_config(args.config);
  if (!config) return config.error().message;
  Args merged;
  if (!config->state_dir.empty()) merged.state_dir = config->state_dir;
  if (!config->task_user.empty()) merged.task_user = config->task_user;
  if (!config->log_level.empty()) merged.log_level = config->log_level;
  auto problem = parse_args(argv, merged);
  args = merged;
  return problem;
}

int run_enroll(const Args& args) {
  if (args.hub.empty() || args.token.empty()) return usage("enroll needs --hub and --token");
  auto state = enroll(EnrollOptions{args.hub, args.token, args.ca, args.labels, args.state_dir});
  if (!state) {
    std::fprintf(stderr, "muster-agent: %s\n", state.error().message.c_str());
    return kFailure;
  }
  std::printf("enrolled as %s (master %s)\n%s\n", state->enrollment.jid.c_str(), state->enrollment.master_jid.c_str(),
              state->enrollment.uuid.c_str());
  return kOk;
}

// The agent's loop, for `run` and `service`: calls ready() once it is up and
// returns when *stop becomes non-zero. Problems go to the log (a service has
// no stderr).
int run_agent(const Args& args, volatile std::sig_atomic_t* stop, const std::function<void()>& ready) {
  StatePaths paths(args.state_dir);
  bool ready_reported = false;
  const auto report_ready = [&] {
    if (!ready_reported) ready();
    ready_reported = true;
  };
  if (!args.config.empty() && !platform::file_exists(paths.state_file())) {
    // Enrollment may wait for a hub or a new token for hours: the service
    // manager must not take that for a start that hangs.
    report_ready();
    if (!enroll_on_first_start(args.config, args.state_dir, stop)) return kOk;
  }
  auto state = load_state(paths);
  if (!state) {
    LOG_ERROR("not enrolled? %s", state.error().message.c_str());
    return kNoState;
  }
  {
    Agent agent(paths, std::move(*state), args.task_user);
    if (auto opened = agent.open(); !opened) {
      LOG_ERROR("%s", opened.error().message.c_str());
      return kFailure;
    }
    report_ready();
    agent.run(stop);
  }  // the connection and libstrophe's context are released here
  LOG_INFO("stopped");
  return kOk;
}

int run_console(const Args& args) {
  platform::on_stop_request(&g_stop);
  return run_agent(args, &g_stop, [] {});
}

// Under the Windows Service Control Manager. A service has no stderr: once
// the SCM has started it, the log goes to agent.log in the state directory.
// Not started by the SCM (a console), or on POSIX: a usage error.
int run_service(const Args& args) {
  int code = kOk;
  std::string error;
  const platform::ServiceBody body = [&args](volatile std::sig_atomic_t* stop, const std::function<void()>& ready) {
    // A fresh install's service starts before enrollment made the state
    // directory; its log goes there from the first line.
    if (auto made = platform::make_private_dir(args.state_dir); !made) LOG_ERROR("%s", made.error().message.c_str());
    const std::string log_path = platform::join_path(args.state_dir, "agent.log");
    if (!log_to_file(log_path)) LOG_ERROR("cannot open the log file %s", log_path.c_str());
    LOG_INFO("muster-agent %s started as a service (state %s)", kAgentVersion, args.state_dir.c_str());
    return run_agent(args, stop, ready);
  };
  if (!platform::run_as_service(body, code, error)) {
    std::fprintf(stderr, "muster-agent: %s\n", error.c_str());
    return kUsage;
  }
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  platform::prepare_process();
  if (argc < 2) return usage(nullptr);
  const std::string command = argv[1];
  if (command == "version" || command == "--version") {
    std::printf("muster-agent %s\n", kAgentVersion);
    return kOk;
  }
  if (command == "help" || command == "--help" || command == "-h") {
    usage(nullptr);
    return kOk;
  }
  Args args;
  if (auto problem = parse_args_with_config(std::vector<std::string>(argv + 2, argv + argc), args);
      !problem.empty()) {
    return usage(problem.c_str());
  }
  LogLevel level{};
  if (!parse_log_level(args.log_level.c_str(), level)) return usage("--log-level must be error, warn, info or debug");
  set_log_level(level);
  muster::log::Format format{};
  if (!muster::log::parse_format(args.log_format, format)) return usage("--log-format must be text or json");
  muster::log::set_format(format);
  muster::log::set_program("muster-agent");
  if (command == "enroll") return run_enroll(args);
  if (command == "run") return run_console(args);
  if (command == "service") return run_service(args);
  return usage(("unknown command " + command).c_str());
}
