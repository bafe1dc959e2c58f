#pragma once
// The master role of one process: it competes for the leases of the shards it
// may hold and runs a Master for each shard it wins. A lease is a store key
// with a short expiry renewed by its holder; when a master dies its leases
// lapse and a standby takes the shards over. Each acquisition gets a fencing
// token (a per-shard counter) so a master that lost its lease can tell.
#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config.hpp"
#include "master/master.hpp"
#include "store/redis_leases.hpp"
#include "store/store.hpp"

namespace muster::hub {

class ShardLeases {
 public:
  ShardLeases(const HubConfig& config, Store& store);
  ~ShardLeases();
  ShardLeases(const ShardLeases&) = delete;
  ShardLeases& operator=(const ShardLeases&) = delete;

  void start();
  void stop();
  // Ready: it holds at least one shard and each held shard's link is up;
  // otherwise why not.
  std::string readiness_problem() const;

 private:
  // The held shards and whether each is linked, for readiness and the gauges.
  void publish_status(const std::vector<std::string>& candidates);
  struct Held {
    std::string token;  // "<holder id>:<fence>"
    std::unique_ptr<Master> master;
  };

  void loop();
  void try_acquire(const std::string& shard);
  bool renew(const std::string& shard, const std::string& token);
  void release_all();

  const HubConfig& config_;
  Store& store_;
  RedisLeases leases_;
  std::string holder_id_;
  std::map<std::string, Held> held_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex status_mutex_;
  std::map<std::string, bool> linked_;  // held shard → link up
};

}  // namespace muster::hub
