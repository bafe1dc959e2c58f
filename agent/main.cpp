// muster-agent: enroll this machine with a hub, then run tasks from its master.
// Exit codes (documented in docs/commands.md) are decided here only.
#include <csignal>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "agent.hpp"
#include "enroll.hpp"
#include "log.hpp"
#include "platform/startup.hpp"
#include "version.hpp"

namespace {

using namespace muster::agent;

enum ExitCode { kOk = 0, kFailure = 1, kUsage = 2, kNoState = 3 };

constexpr const char* kDefaultStateDir = "/var/lib/muster-agent";

volatile std::sig_atomic_t g_stop = 0;

int usage(const char* problem) {
  if (problem != nullptr) std::fprintf(stderr, "muster-agent: %s\n\n", problem);
  std::fprintf(stderr,
               "usage:\n"
               "  muster-agent enroll --hub URL --token TOKEN [--ca FILE] [--label KEY=VALUE ...] [--state-dir DIR]\n"
               "  muster-agent run [--state-dir DIR] [--task-user USER] [--log-level error|warn|info|debug]\n"
               "  muster-agent version\n"
               "\nDefault state directory: %s\n",
               kDefaultStateDir);
  return kUsage;
}

struct Args {
  std::string hub, token, ca, state_dir = kDefaultStateDir, log_level = "info";
  // A root agent runs tasks as this account unless a task is signed as_root.
  std::string task_user = "nobody";
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
    } else if (flag == "--state-dir") {
      args.state_dir = value;
    } else if (flag == "--task-user") {
      args.task_user = value;
    } else if (flag == "--log-level") {
      args.log_level = value;
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

int run_agent(const Args& args) {
  StatePaths paths(args.state_dir);
  auto state = load_state(paths);
  if (!state) {
    std::fprintf(stderr, "muster-agent: not enrolled? %s\n", state.error().message.c_str());
    return kNoState;
  }
  Agent agent(paths, std::move(*state), args.task_user);
  if (auto opened = agent.open(); !opened) {
    std::fprintf(stderr, "muster-agent: %s\n", opened.error().message.c_str());
    return kFailure;
  }
  platform::on_stop_request(&g_stop);
  agent.run(&g_stop);
  return kOk;
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
  if (auto problem = parse_args(std::vector<std::string>(argv + 2, argv + argc), args); !problem.empty()) {
    return usage(problem.c_str());
  }
  LogLevel level{};
  if (!parse_log_level(args.log_level.c_str(), level)) return usage("--log-level must be error, warn, info or debug");
  set_log_level(level);
  if (command == "enroll") return run_enroll(args);
  if (command == "run") return run_agent(args);
  return usage(("unknown command " + command).c_str());
}
