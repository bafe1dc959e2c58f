#include "master/dispatcher.hpp"

#include <algorithm>
#include <chrono>

#include "core/auth.hpp"
#include "muster/proto/log.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/stanza.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {

Dispatcher::Dispatcher(const ShardContext& shard, std::string lease_token, TaskSender& sender, Parking& parking,
                       Sweeper& sweeper, XmppAdmin& admin)
    : shard_(shard),
      lease_token_(std::move(lease_token)),
      sender_(sender),
      parking_(parking),
      sweeper_(sweeper),
      admin_(admin),
      consumer_("master-" + proto::random_hex(6)) {}

void Dispatcher::start() {
  stopping_ = false;
  thread_ = std::thread([this] { loop(); });
}

void Dispatcher::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Dispatcher::loop() {
  std::unique_ptr<DispatchFeed> feed;
  using Clock = std::chrono::steady_clock;
  auto next_sweep = Clock::now();
  while (!stopping_) {
    try {
      if (!feed) feed = shard_.store.open_dispatch_feed(consumer_);
      if (!feed->holds_lease(lease_token_)) {
        // Fenced: another master owns the shard now. ShardLeases stops us soon;
        // until then take nothing from the queues.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      if (store_failed_.exchange(false)) {
        sweeper_.recover_from_store_outage();
        // The online agents resend the results refused while the store was away.
        shard_.link.post([this] {
          if (shard_.link.connected()) admin_.greet_online_agents();
        });
      }
      if (link_back_.exchange(false)) sweeper_.look_again_at_all(Sweeper::Look::link_back);
      read_streams(*feed);
      if (Clock::now() >= next_sweep) {
        sweeper_.sweep();
        next_sweep = Clock::now() + std::chrono::seconds(1);
      }
    } catch (const std::exception& e) {
      log::warn("master", std::string("store: ") + e.what() + "; retrying");
      note_store_failure();
      feed.reset();
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

void Dispatcher::read_streams(DispatchFeed& feed) {
  // Control requests are always read; tasks only while the window has room
  // and the component link is up (a task sent into a link that is down goes
  // nowhere and would wait for the sweep to resend it).
  long room = sender_.room();
  if (room < kMinBatch) room = sender_.wait_for_room(stopping_);
  if (!shard_.link.connected()) {
    room = 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const auto& delivery : feed.read(std::min(room, 512L))) {
    for (const auto& request : delivery.controls) handle_control(request);
    dispatch(delivery.tasks);
    feed.acknowledge(delivery);
  }
}

// Each step is one round trip for every task of the batch, so a job to
// thousands of agents costs a few dozen round trips, not several per agent.
void Dispatcher::dispatch(const std::vector<TaskKey>& batch) {
  std::vector<TaskKey> tasks, agents_online;
  std::vector<std::string> agent_ids;
  for (const auto& t : batch) {
    if (!proto::is_uuid(t.job_id) || !proto::is_uuid(t.agent_id)) continue;
    tasks.push_back(t);
    agent_ids.push_back(t.agent_id);
  }
  if (tasks.empty()) return;
  ShardStore& store = shard_.store;
  const auto online = store.agents_online(agent_ids);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    if (online[i]) {
      agents_online.push_back(tasks[i]);
    } else if (store.task_state(tasks[i]) == "pending") {
      parking_.park(tasks[i]);
    }
  }
  const auto decisions = store.claim_for_dispatch(agents_online);
  std::vector<TaskSender::Claimed> claimed;
  std::vector<InFlight> inflight;
  const double ack_deadline = unix_time() + kAckWaitSeconds;
  for (std::size_t i = 0; i < agents_online.size(); ++i) {
    const TaskKey& task = agents_online[i];
    if (decisions[i].claim == Claim::ended) store.follow_up(task.job_id, decisions[i].outcome);
    if (decisions[i].claim != Claim::send) continue;  // waits for a slot, or gone
    claimed.push_back({task.job_id, task.agent_id, decisions[i].task_id, decisions[i].proof});
    inflight.push_back({task, ack_deadline});
  }
  sender_.send(claimed, std::move(inflight));
}

void Dispatcher::handle_control(const ControlRequest& request) {
  if (request.op == "cancel") {
    cancel_running(request.job_id);
    return;
  }
  if ((request.op != "add-user" && request.op != "delete-user") || !proto::is_uuid(request.request_id)) {
    log::warn("master", "ignoring unknown control request " + request.op);
    return;
  }
  admin_.change_account(request.op, request.request_id, request.jid, request.password);
}

void Dispatcher::cancel_running(const std::string& job_id) {
  if (!proto::is_uuid(job_id)) return;
  for (const auto& task : shard_.store.tasks_of_job(job_id)) {
    if (task.shard != shard_.shard || (task.state != "dispatched" && task.state != "running")) continue;
    // The agent kills the task's tree and reports it cancelled; an agent that
    // has not seen the task yet remembers never to run it.
    proto::CancelRequest cancel{task.task_id, job_id};
    shard_.link.post([this, to = shard_.agent_jid(task.agent_id), job_id, payload = proto::encode(cancel)] {
      auto iq = proto::make_payload_iq(shard_.link.ctx(), "set", kCancelIdPrefix + job_id, to, proto::kCancelElement,
                                       payload);
      shard_.send(iq.get());
    });
  }
}

}  // namespace muster::hub
