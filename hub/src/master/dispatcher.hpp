#pragma once
// The shard's dispatcher thread: reads the shard's dispatch and control
// streams (one consumer group for every master of the shard), claims tasks
// and hands them to the task sender, parks those of offline agents, runs the
// sweep once a second, and drives recovery when the store or the component
// link comes back. It takes work only while this master holds the shard's
// lease.
#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "master/parking.hpp"
#include "master/shard_context.hpp"
#include "master/sweeper.hpp"
#include "master/task_sender.hpp"
#include "master/xmpp_admin.hpp"

namespace muster::hub {

class Dispatcher {
 public:
  Dispatcher(const ShardContext& shard, std::string lease_token, TaskSender& sender, Parking& parking,
             Sweeper& sweeper, XmppAdmin& admin);
  ~Dispatcher() { stop(); }
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  void start();
  void stop();
  // A whole read of the queue at once: claims the tasks, sends those it may,
  // parks those of offline agents.
  void dispatch(const std::vector<TaskKey>& batch);
  // Any thread: a store command failed; recovery runs once it answers again.
  void note_store_failure() { store_failed_ = true; }
  // XMPP thread: the component link (re)connected.
  void note_link_back() { link_back_ = true; }

 private:
  void loop();
  // One read of the shard's streams (tasks only while the window has room),
  // handled and acknowledged.
  void read_streams(DispatchFeed& feed);
  void handle_control(const ControlRequest& request);
  void cancel_running(const std::string& job_id);

  const ShardContext& shard_;
  const std::string lease_token_;
  TaskSender& sender_;
  Parking& parking_;
  Sweeper& sweeper_;
  XmppAdmin& admin_;
  const std::string consumer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> store_failed_{false};
  // Tasks sent while the link was down went nowhere: resent at once.
  std::atomic<bool> link_back_{false};
  std::thread thread_;
};

}  // namespace muster::hub
