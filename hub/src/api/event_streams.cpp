#include "api/event_streams.hpp"

#include <algorithm>
#include <chrono>
#include <functional>

#include "metrics/metrics.hpp"
#include "muster/proto/log.hpp"

namespace muster::hub {
namespace {

using Clock = std::chrono::steady_clock;

// How often a pump asks the store for new events: the delay a watcher sees.
constexpr auto kRoundInterval = std::chrono::milliseconds(100);
constexpr std::size_t kEventsPerRead = 500;

std::string sse(const JobEvent& e) { return "id: " + e.id.text() + "\nevent: " + e.type + "\ndata: " + e.data + "\n\n"; }

std::shared_ptr<const std::string> chunk_of(const std::string& text) {
  return std::make_shared<const std::string>(http_chunk(text));
}

metrics::Gauge& open_streams_gauge() {
  static auto& gauge = metrics::registry().gauge("muster_api_event_streams", "Open job event streams");
  return gauge;
}

}  // namespace

EventStreams::EventStreams(Store& store, int max_per_token, int heartbeat_s, std::size_t pumps)
    : feed_(store), max_per_token_(max_per_token), heartbeat_s_(heartbeat_s) {
  for (std::size_t i = 0; i < pumps; ++i) pumps_.push_back(std::make_unique<Pump>());
}

EventStreams::~EventStreams() { stop(); }

void EventStreams::start(StreamOutlet& outlet) {
  outlet_ = &outlet;
  for (auto& pump : pumps_) {
    Pump* p = pump.get();
    pump->thread = std::thread([this, p] { run(*p); });
  }
}

void EventStreams::stop() {
  stopping_ = true;
  for (auto& pump : pumps_) {
    pump->wake.notify_all();
    if (pump->thread.joinable()) pump->thread.join();
  }
}

StreamReservation EventStreams::reserve(const StreamHolder& holder, long tenant_cap) {
  std::lock_guard<std::mutex> lock(tokens_mutex_);
  const auto token = open_per_token_.find(holder.token_id);
  if (token != open_per_token_.end() && token->second >= max_per_token_) return StreamReservation::token_full;
  const auto tenant = open_per_tenant_.find(holder.tenant);
  if (tenant_cap > 0 && tenant != open_per_tenant_.end() && tenant->second >= tenant_cap) {
    return StreamReservation::tenant_full;
  }
  ++open_per_token_[holder.token_id];
  ++open_per_tenant_[holder.tenant];
  return StreamReservation::granted;
}

void EventStreams::release(const StreamHolder& holder) {
  std::lock_guard<std::mutex> lock(tokens_mutex_);
  const auto token = open_per_token_.find(holder.token_id);
  if (token != open_per_token_.end() && --token->second <= 0) open_per_token_.erase(token);
  const auto tenant = open_per_tenant_.find(holder.tenant);
  if (tenant != open_per_tenant_.end() && --tenant->second <= 0) open_per_tenant_.erase(tenant);
}

std::size_t EventStreams::open_count() const {
  std::lock_guard<std::mutex> lock(tokens_mutex_);
  return connections_.size();
}

EventStreams::Pump& EventStreams::pump_of(const std::string& job_id) {
  return *pumps_[std::hash<std::string>{}(job_id) % pumps_.size()];
}

void EventStreams::open(std::uint64_t connection, const StreamWish& wish) {
  Pump& pump = pump_of(wish.job_id);
  {
    std::lock_guard<std::mutex> lock(tokens_mutex_);
    connections_[connection] = {wish.holder, &pump};
    open_streams_gauge().set(static_cast<double>(connections_.size()));
  }
  std::lock_guard<std::mutex> lock(pump.mutex);
  pump.joining.push_back({wish.job_id, Watcher{connection, parse_stream_id(wish.after_id).value_or(StreamId{})}});
  pump.wake.notify_all();
}

void EventStreams::closed(std::uint64_t connection) {
  Pump* pump = nullptr;
  StreamHolder holder;
  {
    std::lock_guard<std::mutex> lock(tokens_mutex_);
    const auto it = connections_.find(connection);
    if (it == connections_.end()) return;
    holder = it->second.first;
    pump = it->second.second;
    connections_.erase(it);
    open_streams_gauge().set(static_cast<double>(connections_.size()));
  }
  release(holder);
  std::lock_guard<std::mutex> lock(pump->mutex);
  pump->leaving.push_back(connection);
}

void EventStreams::run(Pump& pump) {
  auto next_beat = Clock::now() + std::chrono::seconds(heartbeat_s_);
  while (!stopping_) {
    try {
      take_changes(pump);
      if (!pump.jobs.empty()) read_live(pump);
      if (Clock::now() >= next_beat) {
        beat(pump);
        next_beat = Clock::now() + std::chrono::seconds(heartbeat_s_);
      }
    } catch (const std::exception& e) {
      log::warn("api", std::string("event streams: ") + e.what());
    }
    if (!pump.out.empty()) outlet_->push(std::move(pump.out));
    pump.out.clear();
    std::unique_lock<std::mutex> lock(pump.mutex);
    pump.wake.wait_for(lock, kRoundInterval, [&] { return stopping_ || !pump.joining.empty(); });
  }
}

void EventStreams::take_changes(Pump& pump) {
  std::vector<std::pair<std::string, Watcher>> joining;
  std::vector<std::uint64_t> leaving;
  {
    std::lock_guard<std::mutex> lock(pump.mutex);
    joining.swap(pump.joining);
    leaving.swap(pump.leaving);
  }
  for (const auto connection : leaving) {
    for (auto it = pump.jobs.begin(); it != pump.jobs.end();) {
      auto& w = it->second.watchers;
      w.erase(std::remove_if(w.begin(), w.end(), [&](const Watcher& x) { return x.connection == connection; }), w.end());
      it = w.empty() ? pump.jobs.erase(it) : std::next(it);
    }
  }
  if (!joining.empty()) admit(pump, std::move(joining));
}

// A watcher behind its job's cursor first gets the backlog up to the cursor,
// read for all such watchers in one round trip; then it is in step.
void EventStreams::admit(Pump& pump, std::vector<std::pair<std::string, Watcher>> joining) {
  std::vector<EventFeed::Read> reads;
  std::vector<std::size_t> behind;  // which of `joining` each read is for
  for (std::size_t i = 0; i < joining.size(); ++i) {
    const auto& [job_id, watcher] = joining[i];
    auto it = pump.jobs.find(job_id);
    if (it == pump.jobs.end()) {
      pump.jobs[job_id] = JobFeed{watcher.last, {watcher}, true};
    } else if (watcher.last < it->second.cursor) {
      reads.push_back({job_id, watcher.last, it->second.cursor});
      behind.push_back(i);
    } else {
      it->second.watchers.push_back(watcher);
    }
  }
  if (reads.empty()) return;
  const auto pages = feed_.events_after(reads, kEventsPerRead);
  for (std::size_t k = 0; k < behind.size(); ++k) {
    auto& [job_id, watcher] = joining[behind[k]];
    JobFeed& feed = pump.jobs[job_id];
    auto page = pages[k];
    for (;;) {
      JobFeed alone{feed.cursor, {watcher}, false};
      deliver(alone, page, pump.out);
      watcher = alone.watchers[0];
      if (page.size() < kEventsPerRead || !(watcher.last < feed.cursor)) break;
      // A backlog longer than one read: the rest, page by page.
      page = feed_.events_after({{job_id, watcher.last, feed.cursor}}, kEventsPerRead).at(0);
    }
    watcher.last = feed.cursor;
    feed.watchers.push_back(watcher);
  }
}

void EventStreams::read_live(Pump& pump) {
  std::vector<EventFeed::Read> reads;
  for (const auto& [job_id, feed] : pump.jobs) reads.push_back({job_id, feed.cursor, std::nullopt});
  const auto events = feed_.events_after(reads, kEventsPerRead);
  for (std::size_t i = 0; i < reads.size(); ++i) {
    if (events[i].empty()) continue;
    auto it = pump.jobs.find(reads[i].job_id);
    JobFeed& feed = it->second;
    deliver(feed, events[i], pump.out);
    feed.cursor = events[i].back().id;
    feed.quiet = false;
    if (events[i].back().last()) {
      end_all(feed, pump.out);
      pump.jobs.erase(it);
    }
  }
}

// Each watcher gets the events after its own last one; watchers in step
// (the usual case) share one buffer.
void EventStreams::deliver(JobFeed& feed, const std::vector<JobEvent>& events, std::vector<StreamPush>& out) {
  if (events.empty()) return;
  std::string all;
  for (const auto& e : events) all += sse(e);
  const auto shared = chunk_of(all);
  for (auto& w : feed.watchers) {
    if (w.last < events.front().id) {
      out.push_back({w.connection, shared, false});
    } else {
      std::string mine;
      for (const auto& e : events) mine += w.last < e.id ? sse(e) : "";
      if (!mine.empty()) out.push_back({w.connection, chunk_of(mine), false});
    }
    if (w.last < events.back().id) w.last = events.back().id;
  }
}

void EventStreams::end_all(JobFeed& feed, std::vector<StreamPush>& out) {
  const auto last_chunk = chunk_of("");
  for (const auto& w : feed.watchers) out.push_back({w.connection, last_chunk, true});
  feed.watchers.clear();
}

// A comment to every watcher; and a job quiet for a whole beat whose state
// is no longer running (its last event is gone with its retention) ends.
void EventStreams::beat(Pump& pump) {
  const auto comment = chunk_of(": keepalive\n\n");
  std::vector<std::string> quiet;
  for (auto& [job_id, feed] : pump.jobs) {
    for (const auto& w : feed.watchers) pump.out.push_back({w.connection, comment, false});
    if (feed.quiet) quiet.push_back(job_id);
    feed.quiet = true;
  }
  if (quiet.empty()) return;
  const auto states = feed_.states(quiet);
  for (std::size_t i = 0; i < quiet.size(); ++i) {
    if (states[i] == "running") continue;
    auto it = pump.jobs.find(quiet[i]);
    end_all(it->second, pump.out);
    pump.jobs.erase(it);
  }
}

}  // namespace muster::hub
