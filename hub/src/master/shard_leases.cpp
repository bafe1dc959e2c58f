#include "master/shard_leases.hpp"

#include <iostream>

#include "metrics/metrics.hpp"
#include "muster/proto/log.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {

constexpr long kLeaseMs = 6000;
constexpr auto kCheckEvery = std::chrono::milliseconds(1000);

}  // namespace

ShardLeases::ShardLeases(const HubConfig& config, Store& store)
    : config_(config), store_(store), leases_(store), holder_id_(proto::random_hex(8)) {}

ShardLeases::~ShardLeases() { stop(); }

void ShardLeases::start() {
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void ShardLeases::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void ShardLeases::try_acquire(const std::string& shard) {
  const auto won = leases_.acquire(shard, holder_id_, kLeaseMs);
  if (!won) return;  // another master holds it
  const std::string token = *won;
  const RegionConfig* region = config_.region_of_shard(shard);
  log::info("master", "took shard " + shard + " (lease " + token + ")");
  auto master = std::make_unique<Master>(*region, shard, store_, token);
  master->start();
  held_[shard] = Held{token, std::move(master)};
}

bool ShardLeases::renew(const std::string& shard, const std::string& token) {
  return leases_.renew(shard, token, kLeaseMs);
}

void ShardLeases::loop() {
  std::vector<std::string> candidates = config_.master_shards;
  if (candidates.empty()) {
    for (const auto& region : config_.regions) candidates.insert(candidates.end(), region.shards.begin(), region.shards.end());
  }
  while (!stopping_) {
    for (const auto& shard : candidates) {
      try {
        auto it = held_.find(shard);
        if (it == held_.end()) {
          try_acquire(shard);
        } else if (!renew(shard, it->second.token)) {
          log::warn("master", "lost the lease of shard " + shard + "; stopping its master");
          it->second.master->stop();
          held_.erase(it);
        }
      } catch (const StoreError& e) {
        // Keep serving what we hold: the lease outlives a short store hiccup,
        // and whoever takes it over is fenced by the XMPP server (one
        // connection per component domain).
        log::warn("master", std::string("lease of ") + shard + ": " + e.what());
      }
    }
    publish_status(candidates);
    for (int i = 0; i < 10 && !stopping_; ++i) std::this_thread::sleep_for(kCheckEvery / 10);
  }
  release_all();
  publish_status(candidates);
}

void ShardLeases::publish_status(const std::vector<std::string>& candidates) {
  auto& r = metrics::registry();
  std::map<std::string, bool> linked;
  for (const auto& [shard, held] : held_) linked[shard] = held.master->linked();
  r.gauge("muster_shard_leases_held", "Shard leases this process holds").set(static_cast<double>(linked.size()));
  for (const auto& shard : candidates) {
    const auto it = linked.find(shard);
    r.gauge("muster_component_link_up", "1 while this process holds the shard and its XMPP component link is up",
            {{"shard", shard}})
        .set(it != linked.end() && it->second ? 1 : 0);
  }
  std::lock_guard<std::mutex> lock(status_mutex_);
  linked_ = std::move(linked);
}

std::string ShardLeases::readiness_problem() const {
  std::lock_guard<std::mutex> lock(status_mutex_);
  if (linked_.empty()) return "the master holds no shard (a standby, or the store is unreachable)";
  for (const auto& [shard, up] : linked_) {
    if (!up) return "the component link of shard " + shard + " is down";
  }
  return "";
}

void ShardLeases::release_all() {
  for (auto& [shard, held] : held_) {
    held.master->stop();
    try {
      leases_.release(shard, held.token);
    } catch (const StoreError&) {
      // It lapses on its own.
    }
  }
  held_.clear();
}

}  // namespace muster::hub
