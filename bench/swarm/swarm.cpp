// muster-swarm: many simulated agents in one process, for fan-out benchmarks.
//
// Each simulated agent is the real agent (agent/src/agent.cpp: its own
// account, TLS session, SCRAM login, stream management, signature check,
// journal and result spool); only the process is shared. All agents of a
// process run on one libstrophe context, so its poll() loop watches every
// session (the pinned libstrophe uses poll(), so fds past 1024 are fine).
//
//   muster-swarm enroll --dir D --count N --hub URL --token T [--ca F]
//                       [--label K=V ...] [--parallel P] [--first I]
//   muster-swarm run    --dir D --count N [--first I] [--noop]
//                       [--connect-rate PER_S] [--log-level L]
//
// Agents live in D/agent-00000, D/agent-00001, ...; `enroll` skips those
// already enrolled, so a fleet is enrolled once and reused by every run.
// `run` prints "connected X/N" once a second until all are connected, then
// "ready", and runs until SIGTERM/SIGINT.
// Linux-only (setrlimit): the swarm is a benchmark tool, not a product.
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "agent.hpp"
#include "enroll.hpp"
#include "log.hpp"
#include "platform/startup.hpp"

namespace {

using namespace muster::agent;
using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;

struct Options {
  std::string command, dir, hub, token, ca, log_level = "warn";
  muster::proto::StringMap labels;
  std::size_t count = 0, first = 0, parallel = 16;
  double connect_rate = 200;
  bool noop = false;
};

int usage(const std::string& problem) {
  std::fprintf(stderr,
               "muster-swarm: %s\n\nusage:\n"
               "  muster-swarm enroll --dir D --count N --hub URL --token T [--ca F] [--label K=V ...]\n"
               "                      [--parallel P] [--first I]\n"
               "  muster-swarm run    --dir D --count N [--first I] [--noop] [--connect-rate PER_S]\n"
               "                      [--log-level error|warn|info|debug]\n",
               problem.c_str());
  return 2;
}

std::string agent_dir(const Options& o, std::size_t i) {
  char name[32];
  std::snprintf(name, sizeof name, "/agent-%05zu", i);
  return o.dir + name;
}

bool parse(int argc, char** argv, Options& o, std::string& problem) {
  if (argc < 2) {
    problem = "no command";
    return false;
  }
  o.command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--noop") {
      o.noop = true;
      continue;
    }
    if (i + 1 >= argc) {
      problem = flag + " needs a value";
      return false;
    }
    const std::string value = argv[++i];
    if (flag == "--dir") {
      o.dir = value;
    } else if (flag == "--count") {
      o.count = std::strtoul(value.c_str(), nullptr, 10);
    } else if (flag == "--first") {
      o.first = std::strtoul(value.c_str(), nullptr, 10);
    } else if (flag == "--parallel") {
      o.parallel = std::max<std::size_t>(1, std::strtoul(value.c_str(), nullptr, 10));
    } else if (flag == "--hub") {
      o.hub = value;
    } else if (flag == "--token") {
      o.token = value;
    } else if (flag == "--ca") {
      o.ca = value;
    } else if (flag == "--connect-rate") {
      o.connect_rate = std::max(1.0, std::strtod(value.c_str(), nullptr));
    } else if (flag == "--log-level") {
      o.log_level = value;
    } else if (flag == "--label") {
      const auto eq = value.find('=');
      if (eq == std::string::npos) {
        problem = "--label wants KEY=VALUE";
        return false;
      }
      o.labels[value.substr(0, eq)] = value.substr(eq + 1);
    } else {
      problem = "unknown option " + flag;
      return false;
    }
  }
  if (o.dir.empty() || o.count == 0) {
    problem = "--dir and --count are required";
    return false;
  }
  return true;
}

// Enrolls through the real enrollment path (HTTP POST, XEP-0133 account
// creation by the master), P requests at a time.
int run_enroll(const Options& o) {
  if (o.hub.empty() || o.token.empty()) return usage("enroll needs --hub and --token");
  std::atomic<std::size_t> next{o.first}, enrolled{0}, skipped{0}, failed{0};
  const std::size_t end = o.first + o.count;
  const auto started = Clock::now();
  auto worker = [&] {
    for (std::size_t i = next++; i < end; i = next++) {
      const std::string dir = agent_dir(o, i);
      if (load_state(StatePaths(dir))) {
        ++skipped;
        continue;
      }
      auto state = enroll(EnrollOptions{o.hub, o.token, o.ca, o.labels, dir});
      if (state) {
        ++enrolled;
      } else {
        ++failed;
        std::fprintf(stderr, "agent %zu: %s\n", i, state.error().message.c_str());
      }
    }
  };
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < std::min(o.parallel, o.count); ++t) threads.emplace_back(worker);
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("enrolled %zu, already enrolled %zu, failed %zu in %.1f s (%.0f/s)\n", enrolled.load(), skipped.load(),
              failed.load(), seconds, seconds > 0 ? static_cast<double>(enrolled.load()) / seconds : 0.0);
  return failed.load() == 0 ? 0 : 1;
}

// Each TLS session needs one fd; lift the soft limit to the hard one.
void raise_fd_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

int run_swarm(const Options& o) {
  raise_fd_limit();
  xmpp_initialize();
  xmpp_ctx_t* ctx = xmpp_ctx_new(nullptr, strophe_logger());
  std::vector<std::unique_ptr<Agent>> agents;
  agents.reserve(o.count);
  const auto start = Clock::now();
  const auto spacing = std::chrono::duration<double>(1.0 / o.connect_rate);
  for (std::size_t i = o.first; i < o.first + o.count; ++i) {
    StatePaths paths(agent_dir(o, i));
    auto state = load_state(paths);
    if (!state) {
      std::fprintf(stderr, "muster-swarm: agent %zu is not enrolled: %s\n", i, state.error().message.c_str());
      return 3;
    }
    auto agent = std::make_unique<Agent>(paths, std::move(*state), "", ctx);
    if (auto opened = agent->open(); !opened) {
      std::fprintf(stderr, "muster-swarm: agent %zu: %s\n", i, opened.error().message.c_str());
      return 1;
    }
    if (o.noop) agent->use_builtin_noop();
    agent->connect_not_before(start + std::chrono::duration_cast<Clock::duration>(spacing * (i - o.first)));
    agents.push_back(std::move(agent));
  }
  platform::on_stop_request(&g_stop);

  bool ready = false;
  auto last_report = Clock::now();
  auto last_sweep = Clock::time_point{};
  int wait_ms = 50;
  while (g_stop == 0) {
    xmpp_run_once(ctx, wait_ms);
    const auto now = Clock::now();
    // Results go out from the stanza handlers and step(). An agent with a
    // task in hand is stepped after every wake-up, and waits no longer than
    // it would in its own process; every agent is stepped every 200 ms, often
    // enough for login pacing, pings every 60 s and resend scans every 1 s.
    // Stepping thousands of idle agents after every stanza cost the swarm
    // more CPU than the agents' protocol work.
    const bool sweep = now - last_sweep >= std::chrono::milliseconds(200);
    if (sweep) last_sweep = now;
    wait_ms = 50;
    for (auto& agent : agents) {
      if (sweep || agent->poll_timeout_ms() < 1000) agent->step();
      wait_ms = std::min(wait_ms, agent->poll_timeout_ms());
    }
    if (!ready && now - last_report >= std::chrono::seconds(1)) {
      last_report = now;
      const auto connected = std::count_if(agents.begin(), agents.end(), [](const auto& a) { return a->connected(); });
      std::printf("connected %zu/%zu\n", static_cast<std::size_t>(connected), agents.size());
      if (static_cast<std::size_t>(connected) == agents.size()) {
        ready = true;
        std::printf("ready after %.1f s\n", std::chrono::duration<double>(now - start).count());
      }
      std::fflush(stdout);
    }
  }
  for (auto& agent : agents) agent->request_stop();
  const auto deadline = Clock::now() + std::chrono::seconds(5);
  while (Clock::now() < deadline &&
         !std::all_of(agents.begin(), agents.end(), [](const auto& a) { return a->stopped(); })) {
    xmpp_run_once(ctx, 50);
  }
  agents.clear();
  xmpp_ctx_free(ctx);
  xmpp_shutdown();
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  platform::prepare_process();
  Options o;
  std::string problem;
  if (!parse(argc, argv, o, problem)) return usage(problem);
  LogLevel level{};
  if (!parse_log_level(o.log_level.c_str(), level)) return usage("bad --log-level");
  set_log_level(level);
  if (o.command == "enroll") return run_enroll(o);
  if (o.command == "run") return run_swarm(o);
  return usage("unknown command " + o.command);
}
