#include "master/dispatcher.hpp"

#include <algorithm>
#include <chrono>

#include "core/auth.hpp"
#include "core/tasks.hpp"
#include "muster/proto/log.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/stanza.hpp"
#include "muster/proto/uuid.hpp"
#include "store/keys.hpp"

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

void Dispatcher::ensure_groups(Poco::Redis::Client& client) {
  for (const auto& stream : {keys::dispatch_queue(shard_.shard), keys::control_queue(shard_.shard)}) {
    try {
      run_on(client, {"XGROUP", "CREATE", stream, keys::kMasterGroup, "0", "MKSTREAM"});
    } catch (const StoreError& e) {
      if (std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
    }
  }
}

// Entries a previous holder of this shard read but never acknowledged (it
// died mid-batch) become ours, so they are handled rather than stuck.
void Dispatcher::adopt_pending(Poco::Redis::Client& client) {
  for (const auto& stream : {keys::dispatch_queue(shard_.shard), keys::control_queue(shard_.shard)}) {
    std::string cursor = "0-0";
    do {
      const Reply r = run_on(client, {"XAUTOCLAIM", stream, keys::kMasterGroup, consumer_, "0", cursor, "COUNT",
                                      "500", "JUSTID"});
      if (r.elements.empty()) break;
      cursor = r.elements[0].text;
    } while (cursor != "0-0");
  }
}

void Dispatcher::loop() {
  Poco::Redis::Client::Ptr client;
  // First our own pending entries (delivered to us before a crash, never
  // acknowledged), then new ones.
  Cursors from;
  using Clock = std::chrono::steady_clock;
  auto next_sweep = Clock::now();
  while (!stopping_) {
    try {
      if (client.isNull()) {
        client = shard_.store.connect_dedicated(5000);
        ensure_groups(*client);
        adopt_pending(*client);
        from = Cursors{};
      }
      if (run_on(*client, {"GET", keys::shard_lease(shard_.shard)}).text != lease_token_) {
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
      read_streams(*client, from);
      if (Clock::now() >= next_sweep) {
        sweeper_.sweep();
        next_sweep = Clock::now() + std::chrono::seconds(1);
      }
    } catch (const std::exception& e) {
      log::warn("master", std::string("store: ") + e.what() + "; retrying");
      note_store_failure();
      client = nullptr;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

void Dispatcher::read_streams(Poco::Redis::Client& client, Cursors& from) {
  const std::string queue = keys::dispatch_queue(shard_.shard);
  const std::string control = keys::control_queue(shard_.shard);
  // Control requests are always read; tasks only while the window has room
  // and the component link is up (a task sent into a link that is down goes
  // nowhere and would wait for the sweep to resend it).
  long room = sender_.room();
  if (room < kMinBatch) room = sender_.wait_for_room(stopping_);
  if (!shard_.link.connected()) {
    room = 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  Command read{"XREADGROUP", "GROUP", keys::kMasterGroup, consumer_, "COUNT", std::to_string(std::clamp(room, 1L, 512L))};
  // With the window full, control requests are only polled: the wait for
  // room above paces this loop.
  if (room > 0) read.insert(read.end(), {"BLOCK", "1000"});
  read.push_back("STREAMS");
  if (room > 0) read.push_back(queue);
  read.push_back(control);
  if (room > 0) read.push_back(from.queue);
  read.push_back(from.control);
  const Reply reply = run_on(client, read);
  std::size_t delivered = 0;
  for (const auto& stream : reply.elements) {
    if (stream.elements.size() != 2) continue;
    const bool is_queue = stream.elements[0].text == queue;
    std::vector<std::string> ids;
    std::vector<TaskRef> tasks;
    for (const auto& entry : stream.elements[1].elements) {
      if (entry.elements.size() != 2) continue;
      ++delivered;
      const Reply& fields = entry.elements[1];
      if (is_queue) {
        tasks.push_back({fields.field("job").value_or(""), fields.field("agent").value_or("")});
      } else {
        handle_control(fields);
      }
      ids.push_back(entry.elements[0].text);
    }
    dispatch(tasks);
    if (ids.empty()) continue;
    Command ack{"XACK", stream.elements[0].text, keys::kMasterGroup};
    ack.insert(ack.end(), ids.begin(), ids.end());
    // Handled entries are dropped: the task and job records hold the state,
    // and control entries carry account passwords.
    Command del{"XDEL", stream.elements[0].text};
    del.insert(del.end(), ids.begin(), ids.end());
    for (const auto& r : shard_.store.pipeline({ack, del})) {
      if (r.kind == Reply::Kind::error) throw StoreError(r.text);
    }
  }
  if (delivered == 0) {
    if (room > 0) from.queue = ">";
    from.control = ">";
  }
}

// A whole read of the queue at once: each step is one pipelined round trip
// for every task of the batch, so a job to thousands of agents costs a few
// dozen round trips, not several per agent.
void Dispatcher::dispatch(const std::vector<TaskRef>& batch) {
  std::vector<TaskRef> tasks;
  for (const auto& t : batch) {
    if (proto::is_uuid(t.first) && proto::is_uuid(t.second)) tasks.push_back(t);
  }
  if (tasks.empty()) return;
  Store& store = shard_.store;
  std::vector<Command> reads;
  for (const auto& [job_id, agent_id] : tasks) reads.push_back({"HGET", keys::agent(agent_id), "status"});
  const auto statuses = store.pipeline(reads);
  std::vector<TaskRef> online;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const auto& [job_id, agent_id] = tasks[i];
    if (statuses[i].text == "online") {
      online.push_back(tasks[i]);
    } else if (store.run({"HGET", keys::task(job_id, agent_id), "state"}).text == "pending") {
      parking_.park(job_id, agent_id);
    }
  }
  const auto decisions = claim_for_dispatch(store, online);
  std::vector<TaskSender::Claimed> claimed;
  std::vector<Command> inflight;
  const std::string ack_deadline = format_time(unix_time() + kAckWaitSeconds);
  for (std::size_t i = 0; i < online.size(); ++i) {
    const auto& [job_id, agent_id] = online[i];
    if (decisions[i].claim == Claim::ended) follow_up(store, job_id, decisions[i].outcome);
    if (decisions[i].claim != Claim::send) continue;  // waits for a slot, or gone
    claimed.push_back({job_id, agent_id, decisions[i].task_id, decisions[i].proof});
    inflight.push_back({"ZADD", keys::inflight(shard_.shard), ack_deadline, job_id + "|" + agent_id});
  }
  sender_.send(claimed, std::move(inflight));
}

void Dispatcher::handle_control(const Reply& fields) {
  const std::string op = fields.field("op").value_or("");
  if (op == "cancel") {
    cancel_running(fields.field("job").value_or(""));
    return;
  }
  const std::string request = fields.field("request").value_or("");
  if ((op != "add-user" && op != "delete-user") || !proto::is_uuid(request)) {
    log::warn("master", "ignoring unknown control request " + op);
    return;
  }
  admin_.change_account(op, request, fields.field("jid").value_or(""), fields.field("password").value_or(""));
}

void Dispatcher::cancel_running(const std::string& job_id) {
  if (!proto::is_uuid(job_id)) return;
  Store& store = shard_.store;
  const Reply agents = store.run({"LRANGE", keys::job_tasks(job_id), "0", "-1"});
  std::vector<Command> reads;
  for (const auto& agent : agents.elements) {
    reads.push_back({"HMGET", keys::task(job_id, agent.text), "state", "shard", "task_id"});
  }
  const auto tasks = store.pipeline(reads);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const Reply& t = tasks[i];
    if (t.elements.size() != 3 || t.elements[1].text != shard_.shard) continue;
    const std::string& state = t.elements[0].text;
    if (state != "dispatched" && state != "running") continue;
    // The agent kills the task's tree and reports it cancelled; an agent that
    // has not seen the task yet remembers never to run it.
    proto::CancelRequest cancel{t.elements[2].text, job_id};
    shard_.link.post([this, to = shard_.agent_jid(agents.elements[i].text), job_id, payload = proto::encode(cancel)] {
      auto iq = proto::make_payload_iq(shard_.link.ctx(), "set", kCancelIdPrefix + job_id, to, proto::kCancelElement,
                                       payload);
      shard_.send(iq.get());
    });
  }
}

}  // namespace muster::hub
