#pragma once
// The store side of job event streams: a job's events after a position, for
// many jobs in one round trip, and the jobs' states. Stream positions are
// the store's stream ids ("<ms>-<seq>").
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "store/store.hpp"

namespace muster::hub {

struct StreamId {
  std::uint64_t ms = 0;
  std::uint64_t seq = 0;
  bool operator<(const StreamId& o) const { return ms != o.ms ? ms < o.ms : seq < o.seq; }
  bool operator==(const StreamId& o) const { return ms == o.ms && seq == o.seq; }
  std::string text() const { return std::to_string(ms) + "-" + std::to_string(seq); }
  StreamId next() const { return seq == UINT64_MAX ? StreamId{ms + 1, 0} : StreamId{ms, seq + 1}; }
};

// "<ms>-<seq>" or "<ms>" (seq 0), each a decimal of at most 20 digits that fits 64 bits.
std::optional<StreamId> parse_stream_id(const std::string& text);

// One event as the api sends it: its id, its type (state, output, job) and
// its data as JSON. The "job" event is a job's last.
struct JobEvent {
  StreamId id;
  std::string type;
  std::string data;
  bool last() const { return type == "job"; }
};

class EventFeed {
 public:
  explicit EventFeed(Store& store) : store_(store) {}
  struct Read {
    std::string job_id;
    StreamId after;
    std::optional<StreamId> up_to;  // none: to the end
  };
  // At most `count` events of each job after its position, one round trip.
  std::vector<std::vector<JobEvent>> events_after(const std::vector<Read>& reads, std::size_t count);
  // Whether the store takes `id` as a position in the job's events.
  bool accepts_position(const std::string& job_id, const StreamId& id);
  // Each job's state ("" for a job that is gone), one round trip.
  std::vector<std::string> states(const std::vector<std::string>& job_ids);

 private:
  Store& store_;
};

}  // namespace muster::hub
