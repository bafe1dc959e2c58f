#pragma once
// The master role for one shard: takes tasks and control requests from the
// store, hands tasks to online agents over the component link, and records
// acks, output, results and presence in the store. It keeps no state the
// store does not have.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include "config.hpp"
#include "master/component_link.hpp"
#include "master/job_watch.hpp"
#include "master/recorder.hpp"
#include "store/store.hpp"

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

 private:
  // Dispatcher thread.
  void dispatch_loop();
  void ensure_groups(Poco::Redis::Client& client);
  void adopt_pending(Poco::Redis::Client& client);
  using TaskRef = std::pair<std::string, std::string>;  // (job id, agent id)
  void dispatch(const std::vector<TaskRef>& tasks);
  struct Claimed {
    std::string job_id, agent_id, task_id, proof;
  };
  // `first` (the in-flight records of these tasks) go to the store in the
  // same round trip as the reads of the jobs' signed statements.
  void send_tasks(const std::vector<Claimed>& tasks, std::vector<Command> first);
  // How many more tasks may be sent before answers come back (dispatch thread).
  long window_room();
  // Waits (briefly) until answers free room for a whole batch; returns the room.
  long wait_for_room();
  void park(const std::string& job_id, const std::string& agent_id);
  void sweep();
  // Why look_again() looks: the sweep found the tasks due; the component
  // link came back (what was sent while it was down went nowhere); the store
  // came back (it may have lost the last results it acknowledged).
  enum class Look { due, link_back, store_back };
  // Looks again at in-flight tasks ("<job>|<agent>"): resends those still
  // unacknowledged and parks those whose agent is offline. Running tasks:
  // given up as lost when due; after a store outage sent again, which an
  // agent that has finished answers with the result it still keeps.
  void look_again(const std::vector<std::string>& members, Look why);
  void look_again_at_all(Look why);
  // After the store was unreachable: the job watch looks at every running job
  // at once, and the online agents are greeted so that they resend the
  // results the master could not record.
  void recover_from_store_outage();
  // Any thread: a store command failed; recovery runs once it answers again.
  void note_store_failure() { store_failed_ = true; }
  void cancel_running(const std::string& job_id);
  std::string agent_jid(const std::string& agent_id) const;
  void handle_control(const Reply& fields);

  // XMPP thread.
  void on_connected();
  void on_stanza(xmpp_stanza_t* stanza);
  void on_presence(xmpp_stanza_t* stanza, const std::string& agent_id);
  void on_task_reply(xmpp_stanza_t* stanza, const std::string& agent_id, const std::string& job_id, bool ok);
  void on_result(xmpp_stanza_t* stanza, const std::string& agent_id, const std::string& payload);
  void on_output(const std::string& agent_id, const std::string& payload);
  void on_admin_reply(xmpp_stanza_t* stanza, const std::string& request_id);
  void on_online_users(xmpp_stanza_t* stanza);
  // Fallback where get-online-users-list is refused (ejabberd 23.01).
  void request_online_items();
  void on_online_items(xmpp_stanza_t* stanza);
  void greet(const std::set<std::string>& agents);
  void send_admin_command(const std::string& id, const std::string& node,
                          const std::vector<std::pair<std::string, std::string>>& fields);
  // Every stanza the master sends, with this shard's component JID as 'from'.
  void send(xmpp_stanza_t* stanza);
  // The agent id of a JID in this region's domain, or empty.
  std::string agent_of(const std::string& jid) const;
  void release_parked(const std::string& agent_id);

  const RegionConfig& region_;
  const std::string shard_;
  Store& store_;
  const std::string lease_token_;
  ComponentLink link_;
  std::string consumer_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> store_failed_{false};
  // Set when the component link (re)connects: tasks sent while it was down
  // went nowhere and are resent at once rather than after kAckWaitSeconds.
  std::atomic<bool> link_back_{false};
  std::atomic<long> awaiting_answer_{0};  // tasks sent, not yet answered
  std::optional<std::chrono::steady_clock::time_point> window_full_since_;
  std::mutex room_mutex_;
  std::condition_variable room_freed_;
  std::thread dispatcher_;
  Recorder recorder_;
  JobWatch job_watch_;
};

}  // namespace muster::hub
