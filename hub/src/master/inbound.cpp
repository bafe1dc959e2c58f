#include "master/inbound.hpp"

#include <cstring>

#include "core/auth.hpp"
#include "core/tasks.hpp"
#include "muster/proto/log.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/stanza.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {

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

}  // namespace

void Inbound::on_stanza(xmpp_stanza_t* stanza) {
  const std::string name = xmpp_stanza_get_name(stanza);
  const std::string type = proto::attribute(stanza, "type");
  const std::string id = proto::attribute(stanza, "id");
  const std::string from = proto::attribute(stanza, "from");
  if (name == "iq" && from == shard_.region.xmpp_domain && (type == "result" || type == "error")) {
    admin_.on_server_reply(stanza);
    return;
  }
  const std::string agent_id = shard_.agent_of(from);
  if (agent_id.empty()) {
    if (name == "iq" && (type == "get" || type == "set")) {
      auto error = proto::make_iq_error(shard_.link.ctx(), id, from, "auth", "forbidden", "not an agent of this region");
      shard_.send(error.get());
    }
    return;
  }
  // Acks and results go to the recorder, which checks revocation for a
  // whole batch at once; everything else is checked by the store writer.
  if (name == "iq" && (type == "result" || type == "error") && starts_with(id, kTaskIdPrefix)) {
    on_task_reply(stanza, agent_id, id.substr(std::strlen(kTaskIdPrefix)));
    return;
  }
  if (name == "iq" && type == "set") {
    if (auto payload = proto::payload_text(stanza, proto::kResultElement)) {
      on_result(stanza, agent_id, *payload);
      return;
    }
  }
  Event e{name, type, id, from, agent_id, std::nullopt};
  if (name == "presence") e.payload = proto::payload_text(stanza, proto::kFactsElement);
  if (name == "message") e.payload = proto::payload_text(stanza, proto::kOutputElement);
  writer_.post([this, e = std::move(e)] { handle(e); });
}

void Inbound::on_task_reply(xmpp_stanza_t* stanza, const std::string& agent_id, const std::string& job_id) {
  if (!proto::is_uuid(job_id)) return;
  sender_.answered();
  if (proto::attribute(stanza, "type") == "result") {
    // A task that ended at once is answered with its result (no ack is sent
    // for it: were it lost, the sweep sends the task again and the agent
    // answers from its spool).
    std::optional<proto::TaskResult> result;
    if (auto payload = proto::payload_text(stanza, proto::kResultElement)) {
      auto decoded = proto::decode_task_result(*payload);
      if (decoded && decoded->job_id == job_id) result = std::move(*decoded);
    }
    to_recorder({agent_id, job_id, {}, proto::attribute(stanza, "from"), std::move(result)});
    return;
  }
  writer_.post([this, agent_id, job_id, why = proto::error_description(stanza)] {
    if (shard_.store.is_revoked(agent_id)) return;
    on_task_error(agent_id, job_id, why);
  });
}

void Inbound::on_result(xmpp_stanza_t* stanza, const std::string& agent_id, const std::string& payload) {
  const std::string id = proto::attribute(stanza, "id");
  const std::string from = proto::attribute(stanza, "from");
  auto result = proto::decode_task_result(payload);
  if (!result) {
    auto error = proto::make_iq_error(shard_.link.ctx(), id, from, "modify", "bad-request", result.error().message);
    shard_.send(error.get());
    return;
  }
  const std::string job_id = result->job_id;
  to_recorder({agent_id, job_id, id, from, std::move(*result)});
}

// Reports reach the recorder through the store writer's queue: a result never
// overtakes the output chunks (or presence) that the agent sent before it, so
// a job's events stream holds all of a task's output before its final state.
void Inbound::to_recorder(Recorder::Report report) {
  writer_.post([this, report = std::move(report)]() mutable { recorder_.add(std::move(report)); });
}

void Inbound::reply_error(const Event& e, const char* error_type, const char* condition, const std::string& text) {
  shard_.link.post([this, id = e.id, to = e.from, error_type, condition, text] {
    auto error = proto::make_iq_error(shard_.link.ctx(), id, to, error_type, condition, text);
    shard_.send(error.get());
  });
}

void Inbound::handle(const Event& e) {
  const bool request = e.name == "iq" && (e.type == "get" || e.type == "set");
  try {
    if (shard_.store.is_revoked(e.agent_id)) {
      // Deleted: treated as a stranger.
      if (request) reply_error(e, "auth", "forbidden", "not an agent of this region");
      return;
    }
  } catch (const StoreError&) {
    if (request) reply_error(e, "wait", "internal-server-error", "store unavailable");
    throw;
  }
  if (e.name == "presence") {
    on_presence(e);
  } else if (e.name == "iq" && e.type == "set") {
    reply_error(e, "cancel", "feature-not-implemented", "unknown request");
  } else if (e.name == "iq" && e.type == "get") {
    shard_.link.post([this, id = e.id, to = e.from] {  // XEP-0199 and anything harmless
      auto pong = proto::make_iq_result(shard_.link.ctx(), id, to);
      shard_.send(pong.get());
    });
  } else if (e.name == "message" && e.payload) {
    on_output(e);
  }
}

void Inbound::on_presence(const Event& e) {
  ShardStore& store = shard_.store;
  if (store.agent_shard(e.agent_id) != shard_.shard) return;  // not enrolled here
  if (e.type == "unavailable") {
    store.record_presence(e.agent_id, false, nullptr);
    online_.erase(e.agent_id);
    online_gauge_.set(static_cast<double>(online_.size()));
    return;
  }
  if (!e.type.empty()) return;  // probes, errors, subscriptions: nothing to do
  std::optional<proto::Facts> facts;
  if (e.payload) {
    if (auto decoded = proto::decode_facts(*e.payload)) {
      facts = std::move(*decoded);
    } else {
      log::warn("master", "malformed facts: " + decoded.error().message, {{"agent_id", e.agent_id}});
    }
  }
  store.record_presence(e.agent_id, true, facts ? &*facts : nullptr);
  online_.insert(e.agent_id);
  online_gauge_.set(static_cast<double>(online_.size()));
  parking_.release(e.agent_id);
}

void Inbound::on_output(const Event& e) {
  auto chunk = proto::decode_output_chunk(*e.payload);
  if (chunk) shard_.store.append_output(e.agent_id, *chunk);
}

void Inbound::on_task_error(const std::string& agent_id, const std::string& job_id, const std::string& why) {
  ShardStore& store = shard_.store;
  const TaskKey task{job_id, agent_id};
  if (is_delivery_failure(why)) {
    // Not delivered: back to pending, parked until the agent is online again.
    // Only a task really sent to this agent says so: an error naming a task
    // it never had changes nothing.
    const auto outcome = store.transition({{job_id, agent_id, "pending", {"dispatched"}, {}}}).front();
    if (outcome.moved) {
      store.record_undeliverable(task);
      parking_.park(task);
    }
    store.follow_up(job_id, outcome);
  } else {
    const auto outcome = store.transition({{job_id, agent_id, "failed", {"dispatched", "running"},
                                            {"error", "refused by the agent: " + why, "finished_at",
                                             format_time(unix_time())}}}).front();
    if (outcome.moved) store.drop_in_flight(task);
    store.follow_up(job_id, outcome);
  }
}

}  // namespace muster::hub
