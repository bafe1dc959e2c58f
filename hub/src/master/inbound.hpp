#pragma once
// Everything agents and the XMPP server send to the shard's component, routed
// on the XMPP thread: acks and results to the recorder (which writes them in
// batches), presence, output chunks and refusals to the store writer, the
// server's answers to the administration. Nothing here waits for the store.
#include <optional>
#include <string>
#include <unordered_set>

#include "master/parking.hpp"
#include "master/recorder.hpp"
#include "master/shard_context.hpp"
#include "master/store_writer.hpp"
#include "master/task_sender.hpp"
#include "master/xmpp_admin.hpp"
#include "metrics/metrics.hpp"

namespace muster::hub {

class Inbound {
 public:
  Inbound(const ShardContext& shard, Recorder& recorder, StoreWriter& writer, TaskSender& sender, Parking& parking,
          XmppAdmin& admin)
      : shard_(shard),
        recorder_(recorder),
        writer_(writer),
        sender_(sender),
        parking_(parking),
        admin_(admin),
        online_gauge_(metrics::registry().gauge("muster_agents_online",
                                                "Agents whose presence this shard's master last saw as available",
                                                {{"region", shard.region.name}, {"shard", shard.shard}})) {}

  // XMPP thread.
  void on_stanza(xmpp_stanza_t* stanza);

 private:
  // What the store writer needs of a stanza (the stanza itself belongs to
  // the XMPP thread).
  struct Event {
    std::string name, type, id, from, agent_id;
    std::optional<std::string> payload;  // facts (presence) or output chunk (message)
  };

  void on_task_reply(xmpp_stanza_t* stanza, const std::string& agent_id, const std::string& job_id);
  void on_result(xmpp_stanza_t* stanza, const std::string& agent_id, const std::string& payload);
  void to_recorder(Recorder::Report report);
  // Store writer thread.
  void handle(const Event& e);
  void on_presence(const Event& e);
  void on_output(const Event& e);
  void on_task_error(const std::string& agent_id, const std::string& job_id, const std::string& why);
  void reply_error(const Event& e, const char* error_type, const char* condition, const std::string& text);

  const ShardContext& shard_;
  Recorder& recorder_;
  StoreWriter& writer_;
  TaskSender& sender_;
  Parking& parking_;
  XmppAdmin& admin_;
  // Store writer thread: the agents last seen available, for the gauge.
  std::unordered_set<std::string> online_;
  metrics::Gauge& online_gauge_;
};

}  // namespace muster::hub
