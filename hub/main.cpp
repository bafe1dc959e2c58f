// muster-hub: the api and master roles in one binary. Exit codes
// (docs/commands.md) are decided here only.
#include <pthread.h>
#include <signal.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <Poco/Net/SSLManager.h>

#include "api/http_api.hpp"
#include "config.hpp"
#include "config_keys.hpp"
#include "core/agents.hpp"
#include "core/audit.hpp"
#include "core/auth.hpp"
#include "core/jobs.hpp"
#include "core/tenants.hpp"
#include "init_config.hpp"
#include "master/shard_leases.hpp"
#include "metrics/metrics_server.hpp"
#include "muster/proto/log.hpp"
#include "muster/version.hpp"
#include "store/redis_api_store.hpp"
#include "store/store.hpp"

namespace {

using namespace muster::hub;

enum ExitCode { kOk = 0, kFailure = 1, kUsage = 2 };
constexpr std::int64_t kAdminTokenTtl = 365LL * 86400;

int usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "muster-hub: " << problem << "\n\n";
  std::cerr << "usage:\n"
               "  muster-hub --config FILE [--role api|master|all] [--log-level error|warn|info|debug]\n"
               "             [--log-format text|json]\n"
               "  muster-hub admin-token --config FILE [--tenant NAME] [--platform]\n"
               "             (an admin token of the tenant; --platform: one that also manages tenants)\n"
               "  muster-hub init --config FILE --xmpp-domain DOMAIN [--api-listen HOST:PORT] [--state-dir DIR]\n"
               "                  [--group GROUP] [--force]               (a first single-machine configuration)\n"
               "  muster-hub config --config FILE [--role api|master|all]   (the effective configuration)\n"
               "  muster-hub config --reference                           (every key, as docs/commands.md shows it)\n"
               "  muster-hub version\n";
  return kUsage;
}

StoreConfig store_config(const HubConfig& c) { return StoreConfig{c.store_host, c.store_port, c.store_password}; }

int print_admin_token(const HubConfig& config, const std::string& tenant, bool platform) {
  Store store(store_config(config), 1);
  RedisApiStore api_store(store);
  if (api_store.tenant(tenant).field("state") == kTenantDeleted) {
    std::cerr << "muster-hub: tenant " << tenant << " was deleted; its name is not used again" << std::endl;
    return kFailure;
  }
  if (!valid_tenant_name(tenant)) {
    std::cerr << "muster-hub: tenant names are 1-63 of a-z, 0-9, '-' and '_'" << std::endl;
    return kUsage;
  }
  api_store.create_tenant(tenant, Record{{{"state", kTenantActive}, {"created_at", std::to_string(unix_seconds())}}});
  Auth auth(api_store);
  const NewToken t = auth.create_api_token(tenant, platform ? Role::platform : Role::admin, kAdminTokenTtl);
  std::cout << t.token << std::endl;
  return kOk;
}

std::string read_token_file(const std::string& path) {
  if (path.empty()) return "";
  std::ifstream in(path);
  std::string token;
  if (!(in >> token)) throw std::runtime_error("cannot read a token from metrics.token_file " + path);
  return token;
}

// Empty when this process can do its work: the store answers and, for a
// master, it holds shards whose component links are up.
std::string readiness_problem(Store& store, const ShardLeases* master) {
  try {
    store.run({"PING"});
  } catch (const StoreError& e) {
    return std::string("the store does not answer: ") + e.what();
  }
  return master != nullptr ? master->readiness_problem() : "";
}

int serve(const HubConfig& config) {
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Workers, event stream pumps, the master's threads.
  Store store(store_config(config), static_cast<std::size_t>(config.api_threads) + 6);
  RedisApiStore api_store(store);
  Auth auth(api_store, config.tenant_quotas);
  Audit audit(api_store);
  ApiKeys keys;
  std::unique_ptr<Agents> agents;
  std::unique_ptr<Jobs> jobs;
  std::unique_ptr<Tenants> tenants;
  std::unique_ptr<HttpApi> api;
  std::unique_ptr<ShardLeases> master;
  if (config.runs_master()) {
    master = std::make_unique<ShardLeases>(config, store);
    master->start();
  }
  if (config.runs_api()) {
    keys = ApiKeys::load(config);
    agents = std::make_unique<Agents>(api_store, auth, config, keys);
    jobs = std::make_unique<Jobs>(api_store, *agents, config, keys);
    tenants = std::make_unique<Tenants>(api_store, auth, *agents, config);
    api = std::make_unique<HttpApi>(ApiServices{config, store, auth, *agents, *jobs, audit, *tenants});
    api->start();
    muster::log::info("hub", std::string("api listening on ") + (config.tls_cert.empty() ? "http://" : "https://") +
                                 config.api_host + ":" + std::to_string(api->port()));
  }
  std::unique_ptr<MetricsServer> ops;
  if (!config.metrics_host.empty()) {
    ops = std::make_unique<MetricsServer>(
        MetricsServerConfig{config.metrics_host, config.metrics_port, read_token_file(config.metrics_token_file)},
        [&store, &master] { return readiness_problem(store, master.get()); });
    ops->start();
    muster::log::info("hub", "metrics, healthz and readyz on http://" + config.metrics_host + ":" +
                                 std::to_string(ops->port()));
  }
  muster::log::info("hub", std::string("running role ") + to_string(config.role));
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  muster::log::info("hub", "stopping (signal " + std::to_string(signal_number) + ")");
  if (ops) ops->stop();
  if (api) api->stop();
  if (master) master->stop();
  return kOk;
}

struct Args {
  std::string command = "serve";
  std::string config_path, role_override, tenant = "default";
  bool platform = false;
  InitOptions init;  // init's --xmpp-domain, --api-listen, --force
};

int run_init(Args& args) {
  args.init.config_path = args.config_path;
  try {
    const std::string snippet = write_initial_config(args.init);
    std::cout << "wrote " << args.config_path << " (mode 0640). Before `systemctl start muster-hub`:\n"
              << "- put the API's certificate and key where tls_cert and tls_key say, and the CA of\n"
              << "  the XMPP server's certificate where xmpp_ca_file says;\n"
              << "- add the master's component to Prosody's configuration:\n\n"
              << snippet;
    return kOk;
  } catch (const std::exception& e) {
    std::cerr << "muster-hub: init: " << e.what() << std::endl;
    return kFailure;
  }
}

// The "--name value" flags; sets the log's level and format at once. Returns
// an exit code when the program should stop here (help, reference, errors).
std::optional<int> parse_flags(const std::vector<std::string>& flags, Args& args) {
  for (std::size_t i = 0; i < flags.size(); ++i) {
    const std::string& flag = flags[i];
    if (flag == "--help" || flag == "-h") {
      usage("");
      return kOk;
    }
    if (args.command == "config" && flag == "--reference") {
      std::cout << config_reference();
      return kOk;
    }
    if (args.command == "admin-token" && flag == "--platform") {
      args.platform = true;
      continue;
    }
    if (args.command == "init" && flag == "--force") {
      args.init.force = true;
      continue;
    }
    if (i + 1 >= flags.size()) return usage(flag + " needs a value");
    const std::string& value = flags[++i];
    if (flag == "--config") {
      args.config_path = value;
    } else if (flag == "--role") {
      args.role_override = value;
    } else if (flag == "--tenant") {
      args.tenant = value;
    } else if (args.command == "init" && flag == "--xmpp-domain") {
      args.init.xmpp_domain = value;
    } else if (args.command == "init" && flag == "--api-listen") {
      args.init.api_listen = value;
    } else if (args.command == "init" && flag == "--state-dir") {
      args.init.state_dir = value;
    } else if (args.command == "init" && flag == "--group") {
      args.init.group = value;
    } else if (flag == "--log-level") {
      muster::log::Level level{};
      if (!muster::log::parse_level(value, level)) return usage("--log-level must be error, warn, info or debug");
      muster::log::set_level(level);
    } else if (flag == "--log-format") {
      muster::log::Format format{};
      if (!muster::log::parse_format(value, format)) return usage("--log-format must be text or json");
      muster::log::set_format(format);
    } else {
      return usage("unknown option " + flag);
    }
  }
  return std::nullopt;
}

}  // namespace

int main(int argc, char** argv) {
  // libstrophe writes without MSG_NOSIGNAL: a dead peer must not kill us.
  signal(SIGPIPE, SIG_IGN);
  muster::log::set_program("muster-hub");
  Args args;
  int i = 1;
  if (argc > 1 && argv[1][0] != '-') args.command = argv[i++];
  if (args.command == "version") {
    std::cout << "muster-hub " << muster::kVersion << std::endl;
    return kOk;
  }
  if (const auto early_exit = parse_flags(std::vector<std::string>(argv + i, argv + argc), args)) return *early_exit;
  if (args.config_path.empty()) return usage("--config is required");
  if (args.command == "init") {
    if (args.init.xmpp_domain.empty()) return usage("init needs --xmpp-domain");
    return run_init(args);
  }
  HubConfig config;
  try {
    config = load_config(args.config_path, args.role_override);
  } catch (const ConfigError& e) {
    std::cerr << "muster-hub: " << e.what() << std::endl;
    return kUsage;
  }
  try {
    if (args.command == "config") {
      std::cout << print_config(config);
      return kOk;
    }
    if (args.command == "admin-token") return print_admin_token(config, args.tenant, args.platform);
    if (args.command == "serve") return serve(config);
  } catch (const std::exception& e) {
    std::cerr << "muster-hub: " << e.what() << std::endl;
    return kFailure;
  }
  return usage("unknown command " + args.command);
}
