#pragma once
// What every part of a shard's master shares: the region, the shard (its
// component domain), the store and the component link, and the names agents
// go by on this region's XMPP server.
#include <string>

#include "config.hpp"
#include "master/stanza_link.hpp"
#include "store/shard_store.hpp"

namespace muster::hub {

// How long the master waits before it looks at a sent task again: an
// unacknowledged task is sent again after kAckWaitSeconds (the agent's journal
// makes a repeat harmless); a running task whose result has not come
// kResultGraceSeconds after its timeout is given up as lost.
inline constexpr double kAckWaitSeconds = 15;
inline constexpr double kResultGraceSeconds = 60;
// Iq ids of the master's task and cancel requests: "<prefix><job id>".
inline constexpr const char* kTaskIdPrefix = "t:";
inline constexpr const char* kCancelIdPrefix = "x:";

struct ShardContext {
  const RegionConfig& region;
  const std::string shard;
  ShardStore& store;
  StanzaLink& link;

  // The full JID of an agent of this region.
  std::string agent_jid(const std::string& agent_id) const;
  // The agent id of a JID in this region's domain, or empty.
  std::string agent_of(const std::string& jid) const;
  // XMPP thread: sends with this shard's component domain as 'from'.
  void send(xmpp_stanza_t* stanza) const;
};

}  // namespace muster::hub
