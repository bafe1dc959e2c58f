#include "master/master.hpp"

#include "muster/proto/stanza.hpp"

namespace muster::hub {

Master::Master(const RegionConfig& region, std::string shard, Store& store, std::string lease_token)
    : store_(store, shard),
      link_(ComponentSettings{region.component_host, region.component_port, shard, region.component_secret},
            ComponentLink::Handlers{[this] {
                                      dispatcher_.note_link_back();
                                      admin_.greet_online_agents();
                                    },
                                    [this](xmpp_stanza_t* s) { inbound_.on_stanza(s); }}),
      shard_{region, std::move(shard), store_, link_},
      writer_([this] { note_store_failure(); }),
      recorder_(
          store_, kResultGraceSeconds,
          [this](std::vector<Recorder::Answer> answers) {
            link_.post([this, answers = std::move(answers)] {
              for (const auto& a : answers) {
                auto reply = a.ok ? proto::make_iq_result(link_.ctx(), a.iq_id, a.to)
                                  : proto::make_iq_error(link_.ctx(), a.iq_id, a.to, a.error_type.c_str(),
                                                         a.condition.c_str(), a.text);
                shard_.send(reply.get());
              }
            });
          },
          [this] { note_store_failure(); }),
      sender_(shard_),
      parking_(shard_),
      sweeper_(shard_, sender_, parking_),
      admin_(shard_, writer_),
      inbound_(shard_, recorder_, writer_, sender_, parking_, admin_),
      dispatcher_(shard_, std::move(lease_token), sender_, parking_, sweeper_, admin_) {}

Master::~Master() { stop(); }

void Master::start() {
  writer_.start();
  recorder_.start();
  link_.start();
  dispatcher_.start();
}

void Master::stop() {
  dispatcher_.stop();
  link_.stop();
  writer_.stop();  // first: what it runs may still hand reports to the recorder
  recorder_.stop();
}

}  // namespace muster::hub
