#include "first_start.hpp"

#include <algorithm>
#include <chrono>
#include <random>
#include <thread>

#include "agent_config.hpp"
#include "enroll.hpp"
#include "log.hpp"
#include "platform/fs.hpp"

namespace muster::agent {
namespace {

constexpr std::chrono::seconds kFirstRetry{10};
constexpr std::chrono::seconds kLongestRetry{600};

// Sleeps `delay` give or take a fifth (so a fleet installed at once does not
// retry in step); false if *stop became non-zero meanwhile.
bool sleep_unless_stopped(std::chrono::seconds delay, const volatile std::sig_atomic_t* stop) {
  static std::minstd_rand random{std::random_device{}()};
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(delay).count();
  std::uniform_int_distribution<long long> jitter(-ms / 5, ms / 5);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms + jitter(random));
  while (std::chrono::steady_clock::now() < until) {
    if (*stop != 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return *stop == 0;
}

// One attempt; an empty string on success, else why it failed.
std::string try_enroll(const std::string& config_path, const std::string& state_dir) {
  auto config = load_agent_config(config_path);
  if (!config) return config.error().message;
  if (config->hub_url.empty() || config->enroll_token.empty()) {
    return config_path + " needs hub_url and enroll_token (and ca_file unless the hub's certificate is "
                         "signed by a CA of the system store)";
  }
  auto state = enroll(EnrollOptions{config->hub_url, config->enroll_token, config->ca_file, config->labels, state_dir});
  if (!state) return state.error().message;
  LOG_INFO("enrolled as %s with the token from %s", state->enrollment.uuid.c_str(), config_path.c_str());
  // The token could enroll more machines: it must not stay on disk. The
  // state file alone now decides that this agent never enrolls again.
  const std::string note = "enroll_token was used to enroll as " + state->enrollment.uuid + " and is not kept";
  if (auto forgotten = forget_enroll_token(config_path, note); !forgotten) {
    LOG_WARN("enrolled, but could not remove enroll_token from %s (%s): remove it by hand", config_path.c_str(),
             forgotten.error().message.c_str());
  }
  return {};
}

}  // namespace

bool enroll_on_first_start(const std::string& config_path, const std::string& state_dir,
                           const volatile std::sig_atomic_t* stop) {
  if (platform::file_exists(StatePaths(state_dir).state_file())) return true;
  LOG_INFO("not enrolled yet (no %s): enrolling with %s", StatePaths(state_dir).state_file().c_str(),
           config_path.c_str());
  std::chrono::seconds delay = kFirstRetry;
  for (;;) {
    const std::string problem = try_enroll(config_path, state_dir);
    if (problem.empty()) return true;
    LOG_ERROR("enrollment failed: %s; next attempt in about %lld s", problem.c_str(),
              static_cast<long long>(delay.count()));
    if (!sleep_unless_stopped(delay, stop)) return false;
    delay = std::min(delay * 2, kLongestRetry);
  }
}

}  // namespace muster::agent
