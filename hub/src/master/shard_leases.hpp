#pragma once
// The master role of one process: it competes for the leases of the shards it
// may hold and runs a Master for each shard it wins. A lease is a store key
// with a short expiry renewed by its holder; when a master dies its leases
// lapse and a standby takes the shards over. Each acquisition gets a fencing
// token (a per-shard counter) so a master that lost its lease can tell.
#include <atomic>
#include <map>
#include <memory>
#include <string>
#include <thread>

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

 private:
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
};

}  // namespace muster::hub
