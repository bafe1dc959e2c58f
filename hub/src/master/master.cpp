#include "master/master.hpp"

#include <algorithm>
#include <cstring>
#include <iostream>
#include <set>
#include <sstream>

#include "core/auth.hpp"
#include "core/tasks.hpp"
#include "log.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/stanza.hpp"
#include "muster/proto/uuid.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

constexpr const char* kTaskIdPrefix = "t:";
constexpr const char* kCancelIdPrefix = "x:";
// An unacknowledged task is sent again after this long (the agent's journal
// makes a repeat harmless); a running task whose result has not come this
// long after its timeout is given up as lost.
constexpr double kAckWaitSeconds = 15;
constexpr double kResultGraceSeconds = 60;
constexpr long kSweepLimit = 500;
// Tasks sent and not yet answered, per shard. More would only queue up in
// the XMPP server (Prosody routes one stanza at a time on one core) until
// acks arrive later than kAckWaitSeconds and the sweep sends duplicates
// into the same queue. A thousand keeps the server busy at every speed
// measured here (bench/RESULTS.md).
constexpr long kDispatchWindow = 1000;
// Tasks are taken from the queue in batches of at least this many while
// answers are coming back: every batch costs a few store round trips, and a
// trickle of tiny batches (one per answer) kept the window from ever filling
// on a fast server.
constexpr long kMinBatch = kDispatchWindow / 4;
constexpr auto kRoomWait = std::chrono::milliseconds(20);
constexpr const char* kControlIdPrefix = "c:";
constexpr const char* kOnlineUsersId = "online-users";
constexpr const char* kOnlineItemsId = "online-items";
constexpr const char* kDiscoItemsNs = "http://jabber.org/protocol/disco#items";
// ejabberd's XEP-0030 node that lists every online session (listed in the
// server's own disco#items; open to the `configure` ACL, like XEP-0133).
constexpr const char* kOnlineUsersNode = "online users";
constexpr const char* kCommandsNs = "http://jabber.org/protocol/commands";
constexpr const char* kAdminNode = "http://jabber.org/protocol/admin#";
constexpr const char* kDataNs = "jabber:x:data";
constexpr int kReplyTtlSeconds = 60;
constexpr std::size_t kOutputStreamLength = 10000;

// Stanza errors that mean "not delivered" (the server bounced it), as
// opposed to an answer from the agent itself.
bool is_delivery_failure(const std::string& description) {
  for (const char* c : {"service-unavailable", "recipient-unavailable", "item-not-found", "remote-server-timeout",
                        "remote-server-not-found", "resource-constraint"}) {
    if (description.compare(0, std::strlen(c), c) == 0) return true;
  }
  return false;
}

bool starts_with(const std::string& text, const char* prefix) {
  return text.compare(0, std::strlen(prefix), prefix) == 0;
}

void log(const std::string& line) { log_line("master", line); }

xmpp_stanza_t* add_child(xmpp_ctx_t* ctx, xmpp_stanza_t* parent, const char* name) {
  xmpp_stanza_t* child = xmpp_stanza_new(ctx);
  xmpp_stanza_set_name(child, name);
  xmpp_stanza_add_child(parent, child);
  xmpp_stanza_release(child);
  return child;
}

void add_text(xmpp_ctx_t* ctx, xmpp_stanza_t* parent, const std::string& text) {
  xmpp_stanza_t* node = xmpp_stanza_new(ctx);
  xmpp_stanza_set_text(node, text.c_str());
  xmpp_stanza_add_child(parent, node);
  xmpp_stanza_release(node);
}

std::string text_of(xmpp_stanza_t* stanza) {
  char* text = xmpp_stanza_get_text(stanza);
  if (text == nullptr) return {};
  std::string out(text);
  xmpp_free(xmpp_stanza_get_context(stanza), text);
  return out;
}

}  // namespace

Master::Master(const RegionConfig& region, std::string shard, Store& store, std::string lease_token)
    : region_(region),
      shard_(std::move(shard)),
      store_(store),
      lease_token_(std::move(lease_token)),
      link_(ComponentSettings{region.component_host, region.component_port, shard_, region.component_secret},
            ComponentLink::Handlers{[this] { on_connected(); }, [this](xmpp_stanza_t* s) { on_stanza(s); }}),
      consumer_("master-" + proto::random_hex(6)),
      recorder_(store, shard_, kResultGraceSeconds, [this](std::vector<Recorder::Answer> answers) {
        link_.post([this, answers = std::move(answers)] {
          for (const auto& a : answers) {
            auto reply = a.ok ? proto::make_iq_result(link_.ctx(), a.iq_id, a.to)
                              : proto::make_iq_error(link_.ctx(), a.iq_id, a.to, a.error_type.c_str(),
                                                     a.condition.c_str(), a.text);
            send(reply.get());
          }
        });
      },
      [this] { note_store_failure(); }),
      job_watch_(store, kAckWaitSeconds, kResultGraceSeconds) {}

Master::~Master() { stop(); }

void Master::start() {
  recorder_.start();
  link_.start();
  stopping_ = false;
  dispatcher_ = std::thread([this] { dispatch_loop(); });
}

void Master::stop() {
  stopping_ = true;
  if (dispatcher_.joinable()) dispatcher_.join();
  link_.stop();
  recorder_.stop();
}

// ---- dispatcher thread -------------------------------------------------

void Master::ensure_groups(Poco::Redis::Client& client) {
  for (const auto& stream : {keys::dispatch_queue(shard_), keys::control_queue(shard_)}) {
    try {
      run_on(client, {"XGROUP", "CREATE", stream, keys::kMasterGroup, "0", "MKSTREAM"});
    } catch (const StoreError& e) {
      if (std::string(e.what()).find("BUSYGROUP") == std::string::npos) throw;
    }
  }
}

// Entries a previous holder of this shard read but never acknowledged (it
// died mid-batch) become ours, so they are handled rather than stuck.
void Master::adopt_pending(Poco::Redis::Client& client) {
  for (const auto& stream : {keys::dispatch_queue(shard_), keys::control_queue(shard_)}) {
    std::string cursor = "0-0";
    do {
      const Reply r = run_on(client, {"XAUTOCLAIM", stream, keys::kMasterGroup, consumer_, "0", cursor, "COUNT", "500",
                                      "JUSTID"});
      if (r.elements.empty()) break;
      cursor = r.elements[0].text;
    } while (cursor != "0-0");
  }
}

void Master::dispatch_loop() {
  const std::string queue = keys::dispatch_queue(shard_);
  const std::string control = keys::control_queue(shard_);
  Poco::Redis::Client::Ptr client;
  // First our own pending entries (delivered to us before a crash, never
  // acknowledged), then new ones.
  std::string queue_from = "0";
  std::string control_from = "0";
  using Clock = std::chrono::steady_clock;
  auto next_sweep = Clock::now();
  while (!stopping_) {
    try {
      if (client.isNull()) {
        client = store_.connect_dedicated(5000);
        ensure_groups(*client);
        adopt_pending(*client);
        queue_from = "0";
        control_from = "0";
      }
      if (run_on(*client, {"GET", keys::shard_lease(shard_)}).text != lease_token_) {
        // Fenced: another master owns the shard now. ShardLeases stops us soon;
        // until then take nothing from the queues.
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        continue;
      }
      if (store_failed_.exchange(false)) recover_from_store_outage();
      if (link_back_.exchange(false)) look_again_at_all(Look::link_back);
      // Control requests are always read; tasks only while the window has
      // room and the component link is up (a task sent into a link that is
      // down goes nowhere and would wait for the sweep to resend it).
      long room = window_room();
      if (room < kMinBatch) room = wait_for_room();
      if (!link_.connected()) {
        room = 0;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
      Command read{"XREADGROUP", "GROUP", keys::kMasterGroup, consumer_, "COUNT",
                   std::to_string(std::clamp(room, 1L, 512L))};
      // With the window full, control requests are only polled: the wait for
      // room above paces this loop.
      if (room > 0) read.insert(read.end(), {"BLOCK", "1000"});
      read.push_back("STREAMS");
      if (room > 0) read.push_back(queue);
      read.push_back(control);
      if (room > 0) read.push_back(queue_from);
      read.push_back(control_from);
      const Reply reply = run_on(*client, read);
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
        // Handled entries are dropped: the task and job records hold the
        // state, and control entries carry account passwords.
        Command del{"XDEL", stream.elements[0].text};
        del.insert(del.end(), ids.begin(), ids.end());
        for (const auto& r : store_.pipeline({ack, del})) {
          if (r.kind == Reply::Kind::error) throw StoreError(r.text);
        }
      }
      if (delivered == 0) {
        if (room > 0) queue_from = ">";
        control_from = ">";
      }
      if (Clock::now() >= next_sweep) {
        sweep();
        next_sweep = Clock::now() + std::chrono::seconds(1);
      }
    } catch (const std::exception& e) {
      log(std::string("store: ") + e.what() + "; retrying");
      note_store_failure();
      client = nullptr;
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  }
}

std::string Master::agent_jid(const std::string& agent_id) const {
  return agent_id + "@" + region_.xmpp_domain + "/" + proto::kAgentResource;
}

void Master::park(const std::string& job_id, const std::string& agent_id) {
  // Waits in the store until the agent's presence releases it, or until the
  // job's delivery deadline expires it.
  const Reply deadline = store_.run({"HGET", keys::job(job_id), "deadline"});
  const auto replies =
      store_.pipeline({{"SADD", keys::parked(shard_, agent_id), job_id},
                       {"ZADD", keys::parked_deadlines(shard_), deadline.text.empty() ? "+inf" : deadline.text,
                        job_id + "|" + agent_id},
                       {"HGET", keys::agent(agent_id), "status"}});
  // The agent's presence may have come (and found nothing parked) between
  // our look at its status and now: then release what was just parked. A
  // task queued twice is claimed once.
  if (replies[2].text == "online") release_parked(agent_id);
}

// A whole read of the queue at once: each step is one pipelined round trip
// for every task of the batch, so a job to thousands of agents costs a few
// dozen round trips, not several per agent.
void Master::dispatch(const std::vector<TaskRef>& batch) {
  std::vector<TaskRef> tasks;
  for (const auto& t : batch) {
    if (proto::is_uuid(t.first) && proto::is_uuid(t.second)) tasks.push_back(t);
  }
  if (tasks.empty()) return;
  std::vector<Command> reads;
  for (const auto& [job_id, agent_id] : tasks) reads.push_back({"HGET", keys::agent(agent_id), "status"});
  const auto statuses = store_.pipeline(reads);
  std::vector<TaskRef> online;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const auto& [job_id, agent_id] = tasks[i];
    if (statuses[i].text == "online") {
      online.push_back(tasks[i]);
    } else if (store_.run({"HGET", keys::task(job_id, agent_id), "state"}).text == "pending") {
      park(job_id, agent_id);
    }
  }
  const auto decisions = claim_for_dispatch(store_, online);
  std::vector<Claimed> claimed;
  std::vector<Command> inflight;
  const std::string ack_deadline = format_time(unix_time() + kAckWaitSeconds);
  for (std::size_t i = 0; i < online.size(); ++i) {
    const auto& [job_id, agent_id] = online[i];
    if (decisions[i].claim == Claim::ended) follow_up(store_, job_id, decisions[i].outcome);
    if (decisions[i].claim != Claim::send) continue;  // waits for a slot, or gone
    claimed.push_back({job_id, agent_id, decisions[i].task_id, decisions[i].proof});
    inflight.push_back({"ZADD", keys::inflight(shard_), ack_deadline, job_id + "|" + agent_id});
  }
  send_tasks(claimed, std::move(inflight));
}

long Master::window_room() {
  const long room = kDispatchWindow - awaiting_answer_.load();
  if (room > 0) {
    window_full_since_.reset();
    return room;
  }
  const auto now = std::chrono::steady_clock::now();
  if (!window_full_since_) window_full_since_ = now;
  if (now - *window_full_since_ > std::chrono::seconds(static_cast<long>(kAckWaitSeconds))) {
    // Answers lost with dropped sessions never come; the sweep sends those
    // tasks again. Start counting afresh.
    awaiting_answer_ = 0;
    window_full_since_.reset();
    return kDispatchWindow;
  }
  return 0;
}

long Master::wait_for_room() {
  // The answer handler notifies without taking the lock, so a wake-up can be
  // missed; the timeout bounds what that costs.
  std::unique_lock<std::mutex> lock(room_mutex_);
  room_freed_.wait_for(lock, kRoomWait,
                       [this] { return stopping_ || kDispatchWindow - awaiting_answer_.load() >= kMinBatch; });
  return window_room();
}

void Master::send_tasks(const std::vector<Claimed>& tasks, std::vector<Command> first) {
  if (tasks.empty()) return;
  // Each job's signed fields once, whatever the number of its tasks.
  std::map<std::string, std::size_t> job_index;
  std::vector<Command> commands = std::move(first);
  for (const auto& t : tasks) {
    if (job_index.emplace(t.job_id, commands.size()).second) {
      commands.push_back({"HMGET", keys::job(t.job_id), "statement", "signature", "key_id"});
    }
  }
  // Error replies stay in place: a task whose job cannot be read is logged
  // below and left to the sweep (its in-flight record is what the sweep
  // finds); throwing here would strand the whole batch as dispatched.
  const auto replies = store_.pipeline(commands);
  struct Outgoing {
    std::string to, job_id, payload;
  };
  std::vector<Outgoing> outgoing;
  outgoing.reserve(tasks.size());
  for (const auto& claimed : tasks) {
    const Reply& job = replies[job_index[claimed.job_id]];
    if (job.elements.size() != 3 || claimed.task_id.empty()) {
      // Left to the sweep, which looks again every kAckWaitSeconds.
      log("task of job " + claimed.job_id + " for agent " + claimed.agent_id + " has no signed record; not sent");
      continue;
    }
    // The master forwards the api's signed statement and signature; it cannot
    // make either. The command and its options travel inside the statement.
    proto::Task t;
    t.task_id = claimed.task_id;
    t.auth = proto::TaskAuth{job.elements[2].text, job.elements[1].text, job.elements[0].text, claimed.proof};
    outgoing.push_back({agent_jid(claimed.agent_id), claimed.job_id, proto::encode(t)});
  }
  awaiting_answer_ += static_cast<long>(outgoing.size());
  link_.post([this, outgoing = std::move(outgoing)] {
    for (const auto& o : outgoing) {
      auto iq = proto::make_payload_iq(link_.ctx(), "set", kTaskIdPrefix + o.job_id, o.to, proto::kTaskElement,
                                       o.payload);
      send(iq.get());
    }
  });
}

void Master::sweep() {
  const std::string now = format_time(unix_time());
  // Parked tasks whose job deadline passed: never delivered.
  const Reply expired = store_.run({"ZRANGEBYSCORE", keys::parked_deadlines(shard_), "-inf", now, "LIMIT", "0",
                                    std::to_string(kSweepLimit)});
  for (const auto& member : expired.elements) {
    const auto bar = member.text.find('|');
    const std::string job_id = member.text.substr(0, bar), agent_id = member.text.substr(bar + 1);
    const auto outcome = transition_task(store_, job_id, agent_id, "expired", {"pending"},
                                         {"error", "not delivered before the job deadline (agent offline)",
                                          "finished_at", now});
    store_.pipeline({{"ZREM", keys::parked_deadlines(shard_), member.text},
                     {"SREM", keys::parked(shard_, agent_id), job_id}});
    follow_up(store_, job_id, outcome);
  }
  // Sent tasks to look at again.
  const Reply due = store_.run({"ZRANGEBYSCORE", keys::inflight(shard_), "-inf", now, "LIMIT", "0",
                                std::to_string(kSweepLimit)});
  std::vector<std::string> members;
  for (const auto& member : due.elements) members.push_back(member.text);
  look_again(members, Look::due);
  job_watch_.run(false);
}

void Master::look_again_at_all(Look why) {
  const Reply inflight = store_.run({"ZRANGE", keys::inflight(shard_), "0", "-1"});
  std::vector<std::string> members;
  for (const auto& m : inflight.elements) members.push_back(m.text);
  log(std::string(why == Look::link_back ? "component link" : "store") + " back: looking again at " +
      std::to_string(members.size()) + " task(s) in flight");
  look_again(members, why);
}

void Master::look_again(const std::vector<std::string>& members, Look why) {
  const std::string now = format_time(unix_time());
  for (const auto& member : members) {
    const auto bar = member.find('|');
    if (bar == std::string::npos) continue;
    const std::string job_id = member.substr(0, bar), agent_id = member.substr(bar + 1);
    const auto replies = store_.pipeline({{"HMGET", keys::task(job_id, agent_id), "state", "task_id", "proof"},
                                          {"HGET", keys::agent(agent_id), "status"}});
    if (replies[0].elements.size() != 3) continue;
    const std::string& state = replies[0].elements[0].text;
    if (state == "dispatched" && replies[1].text == "online") {
      send_tasks({{job_id, agent_id, replies[0].elements[1].text, replies[0].elements[2].text}},
                 {{"ZADD", keys::inflight(shard_), format_time(unix_time() + kAckWaitSeconds), member}});
    } else if (state == "dispatched") {
      store_.run({"ZREM", keys::inflight(shard_), member});
      const auto outcome = transition_task(store_, job_id, agent_id, "pending", {"dispatched"});
      if (outcome.moved) park(job_id, agent_id);
      follow_up(store_, job_id, outcome);
    } else if (state == "running" && why == Look::store_back) {
      if (replies[1].text == "online") {
        send_tasks({{job_id, agent_id, replies[0].elements[1].text, replies[0].elements[2].text}}, {});
      }
    } else if (state == "running") {
      if (why != Look::due) continue;
      store_.run({"ZREM", keys::inflight(shard_), member});
      const auto outcome = transition_task(
          store_, job_id, agent_id, "failed", {"running"},
          {"error", "lost: no result within the task timeout plus " + std::to_string(static_cast<int>(kResultGraceSeconds)) +
                        " s (the agent went away while running it)",
           "finished_at", now});
      follow_up(store_, job_id, outcome);
    } else {
      store_.run({"ZREM", keys::inflight(shard_), member});
    }
  }
}

void Master::recover_from_store_outage() {
  const std::size_t repaired = job_watch_.run(true);
  look_again_at_all(Look::store_back);
  log("store reachable again: job watch repaired " + std::to_string(repaired) +
      " job(s); greeting the online agents so they resend their results");
  link_.post([this] {
    if (link_.connected()) on_connected();
  });
}

void Master::handle_control(const Reply& fields) {
  const std::string op = fields.field("op").value_or("");
  if (op == "cancel") {
    cancel_running(fields.field("job").value_or(""));
    return;
  }
  const std::string request = fields.field("request").value_or("");
  if ((op != "add-user" && op != "delete-user") || !proto::is_uuid(request)) {
    log("ignoring unknown control request " + op);
    return;
  }
  const std::string jid = fields.field("jid").value_or("");
  const std::string password = fields.field("password").value_or("");
  link_.post([this, op, request, jid, password] {
    if (!link_.connected()) {
      store_.pipeline({{"LPUSH", keys::reply(request), "the master is not connected to the XMPP server"},
                       {"EXPIRE", keys::reply(request), std::to_string(kReplyTtlSeconds)}});
      return;
    }
    if (op == "add-user") {
      send_admin_command(kControlIdPrefix + request, "add-user",
                         {{"accountjid", jid}, {"password", password}, {"password-verify", password}});
    } else {
      // End the live session first, then remove the account for good.
      // XEP-0133 names the field accountjids; ejabberd (23.01) reads only
      // accountjid. Each server ignores the field it does not know.
      send_admin_command("end-" + request, "end-user-session", {{"accountjids", jid}, {"accountjid", jid}});
      send_admin_command(kControlIdPrefix + request, "delete-user", {{"accountjids", jid}});
    }
  });
}

void Master::cancel_running(const std::string& job_id) {
  if (!proto::is_uuid(job_id)) return;
  const Reply agents = store_.run({"LRANGE", keys::job_tasks(job_id), "0", "-1"});
  std::vector<Command> reads;
  for (const auto& agent : agents.elements) reads.push_back({"HMGET", keys::task(job_id, agent.text), "state", "shard", "task_id"});
  const auto tasks = store_.pipeline(reads);
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const Reply& t = tasks[i];
    if (t.elements.size() != 3 || t.elements[1].text != shard_) continue;
    const std::string& state = t.elements[0].text;
    if (state != "dispatched" && state != "running") continue;
    // The agent kills the task's tree and reports it cancelled; an agent that
    // has not seen the task yet remembers never to run it.
    proto::CancelRequest cancel{t.elements[2].text, job_id};
    link_.post([this, to = agent_jid(agents.elements[i].text), job_id, payload = proto::encode(cancel)] {
      auto iq = proto::make_payload_iq(link_.ctx(), "set", kCancelIdPrefix + job_id, to, proto::kCancelElement, payload);
      send(iq.get());
    });
  }
}

// ---- XMPP thread -------------------------------------------------------

void Master::send(xmpp_stanza_t* stanza) {
  // XEP-0114 §3.1: a component addresses its stanzas 'from' its own domain.
  // Prosody fills in a missing 'from'; ejabberd (check_from, the default)
  // answers it with an invalid-from stream error and closes the stream.
  if (xmpp_stanza_get_from(stanza) == nullptr) xmpp_stanza_set_from(stanza, shard_.c_str());
  link_.send(stanza);
}

void Master::send_admin_command(const std::string& id, const std::string& node,
                                const std::vector<std::pair<std::string, std::string>>& fields) {
  // XEP-0133 in one round trip: execute with the submitted form.
  xmpp_ctx_t* ctx = link_.ctx();
  proto::StanzaRef iq(xmpp_iq_new(ctx, "set", id.c_str()));
  xmpp_stanza_set_to(iq.get(), region_.xmpp_domain.c_str());
  xmpp_stanza_t* command = add_child(ctx, iq.get(), "command");
  xmpp_stanza_set_ns(command, kCommandsNs);
  xmpp_stanza_set_attribute(command, "node", (kAdminNode + node).c_str());
  xmpp_stanza_set_attribute(command, "action", "execute");
  xmpp_stanza_t* form = add_child(ctx, command, "x");
  xmpp_stanza_set_ns(form, kDataNs);
  xmpp_stanza_set_type(form, "submit");
  std::vector<std::pair<std::string, std::string>> all{{"FORM_TYPE", "http://jabber.org/protocol/admin"}};
  all.insert(all.end(), fields.begin(), fields.end());
  for (const auto& [var, value] : all) {
    xmpp_stanza_t* field = add_child(ctx, form, "field");
    xmpp_stanza_set_attribute(field, "var", var.c_str());
    if (var == "FORM_TYPE") xmpp_stanza_set_type(field, "hidden");
    add_text(ctx, add_child(ctx, field, "value"), value);
  }
  send(iq.get());
}

void Master::on_connected() {
  link_back_ = true;
  // Directed presence is not replayed to a component that reconnects: ask
  // the server who is online and greet them; each agent answers with its
  // presence and resends unacknowledged results.
  send_admin_command(kOnlineUsersId, "get-online-users-list", {{"max_items", "all"}});
}

void Master::request_online_items() {
  // ejabberd 23.01 has no get-online-users-list command (service-unavailable)
  // but lists online sessions as disco#items of its "online users" node.
  proto::StanzaRef iq(xmpp_iq_new(link_.ctx(), "get", kOnlineItemsId));
  xmpp_stanza_set_to(iq.get(), region_.xmpp_domain.c_str());
  xmpp_stanza_t* query = add_child(link_.ctx(), iq.get(), "query");
  xmpp_stanza_set_ns(query, kDiscoItemsNs);
  xmpp_stanza_set_attribute(query, "node", kOnlineUsersNode);
  send(iq.get());
}

std::string Master::agent_of(const std::string& jid) const {
  const auto at = jid.find('@');
  if (at == std::string::npos) return {};
  const auto slash = jid.find('/', at);
  const std::string domain = jid.substr(at + 1, slash == std::string::npos ? std::string::npos : slash - at - 1);
  const std::string node = jid.substr(0, at);
  if (domain != region_.xmpp_domain || !proto::is_uuid(node)) return {};
  return node;
}

void Master::on_stanza(xmpp_stanza_t* stanza) {
  const std::string name = xmpp_stanza_get_name(stanza);
  const std::string type = proto::attribute(stanza, "type");
  const std::string id = proto::attribute(stanza, "id");
  const std::string from = proto::attribute(stanza, "from");
  try {
    if (name == "iq" && from == region_.xmpp_domain && (type == "result" || type == "error")) {
      if (starts_with(id, kControlIdPrefix)) on_admin_reply(stanza, id.substr(std::strlen(kControlIdPrefix)));
      if (id == kOnlineUsersId) {
        if (type == "result") {
          on_online_users(stanza);
        } else {
          log("get-online-users-list refused (" + proto::error_description(stanza) + "); asking disco#items");
          request_online_items();
        }
      }
      if (id == kOnlineItemsId) on_online_items(stanza);
      return;
    }
    std::string agent_id = agent_of(from);
    // Acks and results go to the recorder, which checks revocation for a
    // whole batch at once; everything else is checked here.
    const bool batched = name == "iq" && ((type == "result" && starts_with(id, kTaskIdPrefix)) || type == "set");
    if (!agent_id.empty() && !batched && store_.run({"SISMEMBER", keys::kRevokedAgents, agent_id}).integer == 1) {
      agent_id.clear();  // deleted: treated as a stranger
    }
    if (agent_id.empty()) {
      if (name == "iq" && (type == "get" || type == "set")) {
        auto error = proto::make_iq_error(link_.ctx(), id, from, "auth", "forbidden", "not an agent of this region");
        send(error.get());
      }
      return;
    }
    if (name == "presence") {
      on_presence(stanza, agent_id);
    } else if (name == "iq" && (type == "result" || type == "error") && starts_with(id, kTaskIdPrefix)) {
      on_task_reply(stanza, agent_id, id.substr(std::strlen(kTaskIdPrefix)), type == "result");
    } else if (name == "iq" && type == "set") {
      if (auto payload = proto::payload_text(stanza, proto::kResultElement)) {
        on_result(stanza, agent_id, *payload);
      } else {
        auto error = proto::make_iq_error(link_.ctx(), id, from, "cancel", "feature-not-implemented", "unknown request");
        send(error.get());
      }
    } else if (name == "iq" && type == "get") {
      auto pong = proto::make_iq_result(link_.ctx(), id, from);  // XEP-0199 and anything harmless
      send(pong.get());
    } else if (name == "message") {
      if (auto payload = proto::payload_text(stanza, proto::kOutputElement)) on_output(agent_id, *payload);
    }
  } catch (const StoreError& e) {
    log(std::string("store: ") + e.what());
    note_store_failure();
    if (name == "iq" && type == "set") {
      // The agent keeps the result in its spool and sends it again.
      auto error = proto::make_iq_error(link_.ctx(), id, from, "wait", "internal-server-error", "store unavailable");
      send(error.get());
    }
  }
}

void Master::on_presence(xmpp_stanza_t* stanza, const std::string& agent_id) {
  const std::string type = proto::attribute(stanza, "type");
  const Reply known = store_.run({"HGET", keys::agent(agent_id), "shard"});
  if (known.text != shard_) return;  // not enrolled here, or deleted
  if (type == "unavailable") {
    store_.run({"HSET", keys::agent(agent_id), "status", "offline", "last_seen", std::to_string(unix_seconds())});
    return;
  }
  if (!type.empty()) return;  // probes, errors, subscriptions: nothing to do
  Command update{"HSET", keys::agent(agent_id), "status", "online", "last_seen", std::to_string(unix_seconds())};
  if (auto payload = proto::payload_text(stanza, proto::kFactsElement)) {
    if (auto facts = proto::decode_facts(*payload)) {
      for (const auto& [field, value] : std::initializer_list<std::pair<const char*, const std::string&>>{
               {"hostname", facts->hostname}, {"os", facts->os}, {"arch", facts->arch}, {"kernel", facts->kernel},
               {"agent_version", facts->agent_version}}) {
        update.push_back(field);
        update.push_back(value);
      }
    } else {
      log("agent " + agent_id + " sent malformed facts: " + facts.error().message);
    }
  }
  store_.run(update);
  release_parked(agent_id);
}

void Master::release_parked(const std::string& agent_id) {
  const std::string parked = keys::parked(shard_, agent_id);
  const auto replies = store_.pipeline({{"SMEMBERS", parked}, {"DEL", parked}});
  std::vector<Command> requeue;
  for (const auto& job : replies[0].elements) {
    requeue.push_back({"ZREM", keys::parked_deadlines(shard_), job.text + "|" + agent_id});
    requeue.push_back({"XADD", keys::dispatch_queue(shard_), "*", "job", job.text, "agent", agent_id});
  }
  store_.pipeline(requeue);
}

void Master::on_task_reply(xmpp_stanza_t* stanza, const std::string& agent_id, const std::string& job_id, bool ok) {
  if (!proto::is_uuid(job_id)) return;
  for (long n = awaiting_answer_.load(); n > 0; ) {
    if (awaiting_answer_.compare_exchange_weak(n, n - 1)) {
      if (kDispatchWindow - (n - 1) == kMinBatch) room_freed_.notify_one();
      break;
    }
  }
  const std::string member = job_id + "|" + agent_id;
  if (ok) {
    // A task that ended at once is answered with its result (no ack is sent
    // for it: were it lost, the sweep sends the task again and the agent
    // answers from its spool).
    std::optional<proto::TaskResult> result;
    if (auto payload = proto::payload_text(stanza, proto::kResultElement)) {
      auto decoded = proto::decode_task_result(*payload);
      if (decoded && decoded->job_id == job_id) result = std::move(*decoded);
    }
    recorder_.add({agent_id, job_id, {}, proto::attribute(stanza, "from"), std::move(result)});
    return;
  }
  const std::string why = proto::error_description(stanza);
  if (is_delivery_failure(why)) {
    // Not delivered: back to pending, parked until the agent is online again.
    store_.run({"HSET", keys::agent(agent_id), "status", "offline"});
    const auto outcome = transition_task(store_, job_id, agent_id, "pending", {"dispatched"});
    if (outcome.moved) {
      store_.run({"ZREM", keys::inflight(shard_), member});
      park(job_id, agent_id);
    }
    follow_up(store_, job_id, outcome);
  } else {
    store_.run({"ZREM", keys::inflight(shard_), member});
    const auto outcome = transition_task(store_, job_id, agent_id, "failed", {"dispatched", "running"},
                                         {"error", "refused by the agent: " + why, "finished_at", format_time(unix_time())});
    follow_up(store_, job_id, outcome);
  }
}

void Master::on_result(xmpp_stanza_t* stanza, const std::string& agent_id, const std::string& payload) {
  const std::string id = proto::attribute(stanza, "id");
  const std::string from = proto::attribute(stanza, "from");
  auto result = proto::decode_task_result(payload);
  if (!result) {
    auto error = proto::make_iq_error(link_.ctx(), id, from, "modify", "bad-request", result.error().message);
    send(error.get());
    return;
  }
  const std::string job_id = result->job_id;
  recorder_.add({agent_id, job_id, id, from, std::move(*result)});
}

void Master::on_output(const std::string& agent_id, const std::string& payload) {
  auto chunk = proto::decode_output_chunk(payload);
  if (!chunk) return;
  const Reply task_id = store_.run({"HGET", keys::task(chunk->job_id, agent_id), "task_id"});
  if (task_id.text != chunk->task_id) return;
  store_.run({"XADD", keys::job_events(chunk->job_id), "MAXLEN", "~", std::to_string(kOutputStreamLength), "*",
              "type", "output", "agent", agent_id, "stream", chunk->stream == proto::Stream::stdout_stream ? "stdout" : "stderr", "seq",
              std::to_string(chunk->seq), "data", chunk->data});
}

void Master::on_admin_reply(xmpp_stanza_t* stanza, const std::string& request_id) {
  if (!proto::is_uuid(request_id)) return;
  std::string answer = "ok";
  if (proto::attribute(stanza, "type") == "error") {
    answer = proto::error_description(stanza);  // ejabberd reports failures as iq errors
  } else if (xmpp_stanza_t* command = xmpp_stanza_get_child_by_name(stanza, "command")) {
    // Prosody answers type=result and puts failures in <note type='error'>.
    for (xmpp_stanza_t* c = xmpp_stanza_get_children(command); c != nullptr; c = xmpp_stanza_get_next(c)) {
      const char* name = xmpp_stanza_get_name(c);
      if (name != nullptr && std::strcmp(name, "note") == 0 && proto::attribute(c, "type") == "error") {
        answer = text_of(c);
        if (answer.empty()) answer = "refused";
      }
    }
  }
  store_.pipeline({{"LPUSH", keys::reply(request_id), answer},
                   {"EXPIRE", keys::reply(request_id), std::to_string(kReplyTtlSeconds)}});
}

void Master::on_online_users(xmpp_stanza_t* stanza) {
  xmpp_stanza_t* command = xmpp_stanza_get_child_by_name(stanza, "command");
  xmpp_stanza_t* form = command != nullptr ? xmpp_stanza_get_child_by_name_and_ns(command, "x", kDataNs) : nullptr;
  std::set<std::string> agents;
  for (xmpp_stanza_t* f = form != nullptr ? xmpp_stanza_get_children(form) : nullptr; f != nullptr;
       f = xmpp_stanza_get_next(f)) {
    if (proto::attribute(f, "var") != "onlineuserjids") continue;
    for (xmpp_stanza_t* v = xmpp_stanza_get_children(f); v != nullptr; v = xmpp_stanza_get_next(v)) {
      std::istringstream lines(text_of(v));
      for (std::string line; std::getline(lines, line);) {
        const std::string agent_id = agent_of(line.substr(0, line.find(' ')));
        if (!agent_id.empty()) agents.insert(agent_id);
      }
    }
  }
  greet(agents);
}

void Master::on_online_items(xmpp_stanza_t* stanza) {
  if (proto::attribute(stanza, "type") != "result") {
    // Agents are still seen when they next send presence (on reconnect), and a
    // task to an agent that left bounces and parks; only the greeting is lost.
    log("cannot list the online agents: " + proto::error_description(stanza) +
        " (allow this component XEP-0133 get-online-users-list or the disco node 'online users')");
    return;
  }
  std::set<std::string> agents;
  xmpp_stanza_t* query = xmpp_stanza_get_child_by_name_and_ns(stanza, "query", kDiscoItemsNs);
  for (xmpp_stanza_t* item = query != nullptr ? xmpp_stanza_get_children(query) : nullptr; item != nullptr;
       item = xmpp_stanza_get_next(item)) {
    const char* name = xmpp_stanza_get_name(item);
    if (name == nullptr || std::strcmp(name, "item") != 0) continue;
    const std::string agent_id = agent_of(proto::attribute(item, "jid"));
    if (!agent_id.empty()) agents.insert(agent_id);
  }
  greet(agents);
}

void Master::greet(const std::set<std::string>& agents) {
  // Each agent answers with its presence (which marks it online and releases
  // its parked tasks) and resends unacknowledged results.
  log("component up; greeting " + std::to_string(agents.size()) + " online agent(s)");
  for (const auto& agent_id : agents) {
    proto::StanzaRef presence(xmpp_presence_new(link_.ctx()));
    const std::string to = agent_id + "@" + region_.xmpp_domain + "/" + proto::kAgentResource;
    xmpp_stanza_set_to(presence.get(), to.c_str());
    send(presence.get());
  }
}

}  // namespace muster::hub
