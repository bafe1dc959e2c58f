#pragma once
// The master role for one shard, in parts that each own one job:
//   Dispatcher  the thread that reads the shard's streams and claims tasks
//   TaskSender  sends claimed tasks within the dispatch window
//   Parking     tasks of offline agents, until presence or the deadline
//   Sweeper     looks again at sent tasks, runs the job watch
//   Recorder    writes acks and results in batches (its own thread)
//   StoreWriter the rest of the XMPP thread's store work (its own thread)
//   Inbound     routes what arrives on the component link
//   XmppAdmin   XEP-0133 administration and greetings
// It keeps no state the store does not have.
#include <string>

#include "config.hpp"
#include "master/component_link.hpp"
#include "master/dispatcher.hpp"
#include "master/inbound.hpp"
#include "master/parking.hpp"
#include "master/recorder.hpp"
#include "master/shard_context.hpp"
#include "master/store_writer.hpp"
#include "master/sweeper.hpp"
#include "master/task_sender.hpp"
#include "master/xmpp_admin.hpp"
#include "store/redis_shard_store.hpp"

namespace muster::hub {

class Master {
 public:
  // `lease_token` is the value of the shard's lease while this master holds it.
  Master(const RegionConfig& region, std::string shard, Store& store, std::string lease_token);
  ~Master();
  Master(const Master&) = delete;
  Master& operator=(const Master&) = delete;

  void start();
  void stop();
  // Its component link to the XMPP server is up.
  bool linked() const { return link_.connected(); }

 private:
  void note_store_failure() { dispatcher_.note_store_failure(); }

  RedisShardStore store_;
  ComponentLink link_;
  const ShardContext shard_;
  StoreWriter writer_;
  Recorder recorder_;
  TaskSender sender_;
  Parking parking_;
  Sweeper sweeper_;
  XmppAdmin admin_;
  Inbound inbound_;
  Dispatcher dispatcher_;
};

}  // namespace muster::hub
