#pragma once
// Live job event streams (GET /api/v1/jobs/{id}/events) that hold no api
// worker: a few pump threads read each watched job's events from the store
// once per round, for all of that job's watchers together, and hand the
// bytes to the connection loop. Watchers join at their Last-Event-ID (the
// backlog is read for them first), get a comment every heartbeat (a dead
// watcher is found when it cannot take it), and leave when the job's last
// event is sent.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "api/exchange.hpp"
#include "core/event_feed.hpp"

namespace muster::hub {

// Bytes for a streaming connection; `end` closes it after them.
struct StreamPush {
  std::uint64_t connection;
  std::shared_ptr<const std::string> bytes;
  bool end;
};

// Where the pumps write: the connection loop.
class StreamOutlet {
 public:
  virtual ~StreamOutlet() = default;
  virtual void push(std::vector<StreamPush> pushes) = 0;
};

// What the connection loop tells the streams about its connections.
class StreamRegistry {
 public:
  virtual ~StreamRegistry() = default;
  // The connection has sent the stream's head and now watches the job.
  virtual void open(std::uint64_t connection, const StreamWish& wish) = 0;
  // A wish whose connection was gone before it could open.
  virtual void abandon(const StreamWish& wish) = 0;
  virtual void closed(std::uint64_t connection) = 0;
};

enum class StreamReservation { granted, token_full, tenant_full };

class EventStreams final : public StreamRegistry {
 public:
  EventStreams(Store& store, int max_per_token, int heartbeat_s, std::size_t pumps = 2);
  ~EventStreams() override;
  void start(StreamOutlet& outlet);
  void stop();

  bool accepts_position(const std::string& job_id, const StreamId& id) { return feed_.accepts_position(job_id, id); }
  // Holds a place among the token's and the tenant's open streams
  // (`tenant_cap` 0: no cap) unless either has none left.
  StreamReservation reserve(const StreamHolder& holder, long tenant_cap);
  void release(const StreamHolder& holder);

  void open(std::uint64_t connection, const StreamWish& wish) override;
  void abandon(const StreamWish& wish) override { release(wish.holder); }
  void closed(std::uint64_t connection) override;
  std::size_t open_count() const;

 private:
  struct Watcher {
    std::uint64_t connection;
    StreamId last;  // the last event it has
  };
  struct JobFeed {
    StreamId cursor;  // the last event read for this job
    std::vector<Watcher> watchers;
    bool quiet = true;  // no event since the last heartbeat
  };
  struct Pump {
    std::mutex mutex;
    std::condition_variable wake;
    std::vector<std::pair<std::string, Watcher>> joining;
    std::vector<std::uint64_t> leaving;
    std::map<std::string, JobFeed> jobs;  // the pump thread's own
    std::vector<StreamPush> out;          // the pump thread's own
    std::thread thread;
  };

  void run(Pump& pump);
  void take_changes(Pump& pump);
  void admit(Pump& pump, std::vector<std::pair<std::string, Watcher>> joining);
  void read_live(Pump& pump);
  void deliver(JobFeed& feed, const std::vector<JobEvent>& events, std::vector<StreamPush>& out);
  void beat(Pump& pump);
  static void end_all(JobFeed& feed, std::vector<StreamPush>& out);
  Pump& pump_of(const std::string& job_id);

  EventFeed feed_;
  const int max_per_token_;
  const int heartbeat_s_;
  std::vector<std::unique_ptr<Pump>> pumps_;
  StreamOutlet* outlet_ = nullptr;
  std::atomic<bool> stopping_{false};
  mutable std::mutex tokens_mutex_;
  std::unordered_map<std::string, int> open_per_token_;
  std::unordered_map<std::string, long> open_per_tenant_;
  std::unordered_map<std::uint64_t, std::pair<StreamHolder, Pump*>> connections_;
};

}  // namespace muster::hub
