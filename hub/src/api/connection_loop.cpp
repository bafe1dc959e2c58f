#include "api/connection_loop.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "api/exchange.hpp"
#include "api/http_io.hpp"
#include "metrics/metrics.hpp"
#include "muster/proto/log.hpp"

namespace muster::hub {
namespace {

using namespace std::chrono_literals;

// A closing connection gets this long to take our last bytes and say goodbye,
// so that its unread input does not turn our close into a reset.
constexpr auto kDrainTime = 2s;
// Connections refused over a cap that are still being closed cleanly; past
// this they are closed at once.
constexpr int kMaxRefusing = 256;
// A watcher this far behind on its event stream is dropped.
constexpr std::size_t kMaxStreamBacklog = 4 << 20;
constexpr std::size_t kReadChunk = 65536;

std::string error_wire(int status, const std::string& code, const std::string& message, int retry_after_s) {
  BufferedResponse response;
  response.setVersion(Poco::Net::HTTPMessage::HTTP_1_1);
  response.setKeepAlive(false);
  if (retry_after_s > 0) response.set("Retry-After", std::to_string(retry_after_s));
  send_error(response, status, code, message);
  return response.wire();
}

metrics::Gauge& connections_gauge() {
  static auto& gauge = metrics::registry().gauge("muster_api_connections", "Open API client connections");
  return gauge;
}

}  // namespace

ConnectionLoop::ConnectionLoop(Poco::Net::ServerSocket socket, SSL_CTX* tls, const HubConfig::ApiLimits& limits,
                               RequestSink sink, StreamRegistry& streams)
    : socket_(std::move(socket)),
      tls_(tls),
      limits_(limits),
      sink_(std::move(sink)),
      streams_(streams),
      address_rate_(limits.rate_per_address),
      rate_exempt_(limits.rate_exempt.begin(), limits.rate_exempt.end()) {
  framing_.max_body = kMaxRequestBody;
  wake_fd_ = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

ConnectionLoop::~ConnectionLoop() {
  stop();
  ::close(wake_fd_);
}

void ConnectionLoop::start() {
  raise_fd_limit();
  socket_.setBlocking(false);
  thread_ = std::thread([this] { run(); });
}

void ConnectionLoop::stop() {
  stopping_ = true;
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    // The loop also wakes within a second on its own.
  }
  if (thread_.joinable()) thread_.join();
}

// Each connection is a descriptor: the caps must fit under the process's limit.
void ConnectionLoop::raise_fd_limit() const {
  const rlim_t wanted = static_cast<rlim_t>(limits_.max_connections) + kMaxRefusing + 512;
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= wanted) return;
  limit.rlim_cur = std::min(wanted, limit.rlim_max);
  ::setrlimit(RLIMIT_NOFILE, &limit);
  if (limit.rlim_cur < wanted) {
    log::warn("api", "open file limit " + std::to_string(limit.rlim_cur) + " is below api.max_connections + " +
                         std::to_string(wanted - static_cast<rlim_t>(limits_.max_connections)));
  }
}

void ConnectionLoop::answer(std::uint64_t connection, std::string bytes, bool keep_alive,
                            std::optional<StreamWish> stream) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mutex_);
    mailbox_.push_back({connection, std::make_shared<const std::string>(std::move(bytes)), keep_alive, false, true,
                        std::move(stream)});
  }
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    // Only fails when the counter is full: the loop is awake already.
  }
}

void ConnectionLoop::push(std::vector<StreamPush> pushes) {
  {
    std::lock_guard<std::mutex> lock(mailbox_mutex_);
    for (auto& p : pushes) mailbox_.push_back({p.connection, std::move(p.bytes), false, p.end, false, std::nullopt});
  }
  const std::uint64_t one = 1;
  if (::write(wake_fd_, &one, sizeof one) < 0) {
    // As in answer().
  }
}

void ConnectionLoop::run() {
  while (!stopping_) {
    auto next = Clock::now() + 1s;
    for (const auto& [id, c] : connections_) next = std::min({next, c->deadline, c->write_deadline});
    poll_and_dispatch(next);
    expire(Clock::now());
  }
  for (auto& [id, c] : connections_) streams_.closed(id);
  connections_.clear();
}

short ConnectionLoop::events_for(const Connection& c) const {
  const bool writing = c.out.size() > c.out_sent;
  switch (c.phase) {
    case Phase::handshake: return c.link->poll_events(false, false) ? c.link->poll_events(false, false) : POLLIN;
    case Phase::working: return c.link->poll_events(false, writing);
    default: return c.link->poll_events(true, writing);
  }
}

ConnectionLoop::Clock::time_point ConnectionLoop::poll_and_dispatch(Clock::time_point next) {
  std::vector<pollfd> fds;
  std::vector<std::uint64_t> ids;
  fds.reserve(connections_.size() + 2);
  fds.push_back({wake_fd_, POLLIN, 0});
  fds.push_back({socket_.impl()->sockfd(), static_cast<short>(Clock::now() < accept_paused_until_ ? 0 : POLLIN), 0});
  for (const auto& [id, c] : connections_) {
    const short events = events_for(*c);
    // No events wished (a request in a worker): not polled at all, so a hang-up cannot spin the loop.
    fds.push_back({events != 0 ? c->link->fd() : -1, events, 0});
    ids.push_back(id);
  }
  const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
  ::poll(fds.data(), fds.size(), static_cast<int>(std::clamp<long long>(wait, 0, 1000)));
  if (fds[0].revents != 0) {
    std::uint64_t count = 0;
    if (::read(wake_fd_, &count, sizeof count) < 0) count = 0;
  }
  take_mailbox();
  if ((fds[1].revents & POLLIN) != 0) accept_all();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (fds[i + 2].revents == 0) continue;
    const auto it = connections_.find(ids[i]);
    if (it != connections_.end()) on_ready(*it->second, fds[i + 2].revents);
  }
  return next;
}

void ConnectionLoop::take_mailbox() {
  std::vector<Delivery> deliveries;
  {
    std::lock_guard<std::mutex> lock(mailbox_mutex_);
    deliveries.swap(mailbox_);
  }
  for (const auto& d : deliveries) deliver(d);
}

void ConnectionLoop::deliver(const Delivery& d) {
  const auto it = connections_.find(d.connection);
  if (it == connections_.end()) {
    if (d.stream) streams_.abandon(*d.stream);
    return;
  }
  Connection& c = *it->second;
  queue(c, *d.bytes);
  if (connections_.count(d.connection) == 0) return;  // dropped: too far behind
  if (d.is_answer && d.stream) {
    c.phase = Phase::streaming;
    c.deadline = Clock::time_point::max();
    streams_.open(c.id, *d.stream);
  } else if (d.is_answer) {
    c.close_after_write = !d.keep_alive;
    c.read_after_write = d.keep_alive;
  } else if (d.end) {
    c.close_after_write = true;
  }
  flush(c);
}

void ConnectionLoop::accept_all() {
  for (int i = 0; i < 512; ++i) {
    sockaddr_storage address{};
    socklen_t length = sizeof address;
    const int fd = ::accept4(socket_.impl()->sockfd(), reinterpret_cast<sockaddr*>(&address), &length,
                             SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // Out of descriptors: waiting connections stay in the backlog a moment.
        accept_paused_until_ = Clock::now() + 100ms;
        log::warn("api", "accept: out of file descriptors; raise the open file limit or lower api.max_connections");
      }
      return;
    }
    // Answers go out whole: Nagle would only hold back an answer's last TLS
    // record until the client's delayed ACK (40 ms) came.
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    const Poco::Net::SocketAddress peer(reinterpret_cast<const sockaddr*>(&address), length);
    const std::string host = peer.host().toString();
    if (counted_ >= limits_.max_connections) {
      refuse(fd, "the api has " + std::to_string(counted_) + " connections open, its limit");
    } else if (per_address_[host] >= limits_.max_connections_per_address) {
      refuse(fd, "too many connections from " + host + " (limit " +
                     std::to_string(limits_.max_connections_per_address) + ")");
    } else {
      admit(fd, peer, host);
    }
  }
}

void ConnectionLoop::admit(int fd, const Poco::Net::SocketAddress& peer, const std::string& address) {
  auto owned = std::make_unique<Connection>(framing_);
  Connection& c = *owned;
  c.id = next_id_++;
  c.link = std::make_unique<TlsLink>(fd, tls_);
  c.peer = peer;
  c.address = address;
  ++counted_;
  connections_gauge().set(counted_);
  ++per_address_[address];
  connections_[c.id] = std::move(owned);
  if (c.link->secure()) {
    c.phase = Phase::handshake;
    c.deadline = Clock::now() + std::chrono::seconds(limits_.handshake_timeout_s);
    handshake(c);
  } else {
    c.phase = Phase::reading;
    c.deadline = Clock::now() + std::chrono::seconds(limits_.header_timeout_s);
  }
}

// Over a cap: plain HTTP gets a 503 answer, TLS (no handshake to spend on
// it) a clean close; both without holding a place under the caps.
void ConnectionLoop::refuse(int fd, const std::string& reason) {
  if (refusing_ >= kMaxRefusing) {
    ::close(fd);
    return;
  }
  auto owned = std::make_unique<Connection>(framing_);
  Connection& c = *owned;
  c.id = next_id_++;
  c.link = std::make_unique<TlsLink>(fd, nullptr);
  ++refusing_;
  connections_[c.id] = std::move(owned);
  if (tls_ != nullptr) {
    begin_draining(c);
  } else {
    c.phase = Phase::working;
    answer_error(c, 503, "too_many_connections", reason);
  }
}

void ConnectionLoop::on_ready(Connection& c, short revents) {
  const std::uint64_t id = c.id;
  if ((revents & POLLOUT) != 0 && c.phase != Phase::handshake) {
    flush(c);
    if (connections_.count(id) == 0) return;
  }
  if ((revents & (POLLIN | POLLHUP | POLLERR | POLLOUT)) == 0) return;
  switch (c.phase) {
    case Phase::handshake: handshake(c); break;
    case Phase::reading: read_request(c); break;
    case Phase::streaming:
    case Phase::draining: discard_input(c); break;
    case Phase::working: break;
  }
}

void ConnectionLoop::handshake(Connection& c) {
  switch (c.link->handshake()) {
    case TlsLink::Io::ok:
      c.phase = Phase::reading;
      c.deadline = Clock::now() + std::chrono::seconds(limits_.header_timeout_s);
      read_request(c);  // the first request may have come with the handshake
      break;
    case TlsLink::Io::again: break;
    case TlsLink::Io::closed: begin_draining(c); break;
  }
}

void ConnectionLoop::read_request(Connection& c) {
  for (;;) {
    std::string got;
    const TlsLink::Io io = c.link->receive(got, kReadChunk);
    if (!got.empty()) c.framer.feed(got.data(), got.size());
    const auto state = c.framer.state();
    if (state == RequestFramer::State::complete || state == RequestFramer::State::failed) {
      after_framing(c);
      return;
    }
    if (state == RequestFramer::State::body && !c.body_clock) {
      c.body_clock = true;
      c.deadline = Clock::now() + std::chrono::seconds(limits_.body_timeout_s);
    }
    if (c.framer.take_continue_wish()) queue(c, "HTTP/1.1 100 Continue\r\n\r\n");
    if (io == TlsLink::Io::again) return;
    if (io == TlsLink::Io::closed) {
      close(c.id);  // the client left before its request was complete
      return;
    }
  }
}

// The framer has a complete request (to a worker) or a refusal (answered here).
void ConnectionLoop::after_framing(Connection& c) {
  if (c.framer.state() == RequestFramer::State::failed) {
    const FramingError& e = c.framer.error();
    answer_error(c, e.status, e.code, e.message);
    return;
  }
  if (c.framer.state() != RequestFramer::State::complete) return;
  if (rate_exempt_.count(c.address) == 0) {
    if (const int wait = address_rate_.wait_seconds(c.address)) {
      answer_error(c, 429, "rate_limited",
                   "over " + std::to_string(limits_.rate_per_address) + " requests a second from " + c.address, wait);
      return;
    }
  }
  c.phase = Phase::working;
  c.deadline = Clock::time_point::max();
  sink_(c.id, c.framer.take(), c.peer, c.link->secure());
}

void ConnectionLoop::discard_input(Connection& c) {
  std::string got;
  const TlsLink::Io io = c.link->receive(got, kReadChunk);
  if (io == TlsLink::Io::closed) close(c.id);
}

void ConnectionLoop::queue(Connection& c, const std::string& bytes) {
  if (c.out.size() == c.out_sent) {
    c.out.clear();
    c.out_sent = 0;
    c.write_deadline = Clock::now() + std::chrono::seconds(limits_.write_timeout_s);
  }
  c.out += bytes;
  if (c.phase == Phase::streaming && c.out.size() - c.out_sent > kMaxStreamBacklog) close(c.id);
}

void ConnectionLoop::flush(Connection& c) {
  if (c.out.size() > c.out_sent) {
    std::size_t written = 0;
    const TlsLink::Io io = c.link->send(c.out.data() + c.out_sent, c.out.size() - c.out_sent, written);
    c.out_sent += written;
    // A client that reads, however slowly, keeps its connection; one that stops does not.
    if (written > 0) c.write_deadline = Clock::now() + std::chrono::seconds(limits_.write_timeout_s);
    if (io == TlsLink::Io::closed) {
      close(c.id);
      return;
    }
    if (c.out.size() > c.out_sent) return;
  }
  c.out.clear();
  c.out_sent = 0;
  c.write_deadline = Clock::time_point::max();
  after_write(c);
}

void ConnectionLoop::after_write(Connection& c) {
  if (c.close_after_write) {
    begin_draining(c);
  } else if (c.read_after_write) {
    // Ready for the next request of a kept-alive connection; it may be here already.
    c.read_after_write = false;
    c.phase = Phase::reading;
    c.body_clock = false;
    c.deadline = Clock::now() + std::chrono::seconds(limits_.header_timeout_s);
    if (c.framer.state() != RequestFramer::State::head || c.framer.started()) {
      if (c.framer.state() == RequestFramer::State::body) {
        c.body_clock = true;
        c.deadline = Clock::now() + std::chrono::seconds(limits_.body_timeout_s);
      }
      after_framing(c);
    }
    if (c.phase == Phase::reading) read_request(c);
  }
}

void ConnectionLoop::answer_error(Connection& c, int status, const std::string& code, const std::string& message,
                                  int retry_after_s) {
  c.phase = Phase::working;
  c.deadline = Clock::time_point::max();
  c.close_after_write = true;
  queue(c, error_wire(status, code, message, retry_after_s));
  flush(c);
}

void ConnectionLoop::begin_draining(Connection& c) {
  c.phase = Phase::draining;
  c.out.clear();
  c.out_sent = 0;
  c.write_deadline = Clock::time_point::max();
  c.deadline = Clock::now() + kDrainTime;
  c.link->finish();
}

void ConnectionLoop::expire(Clock::time_point now) {
  std::vector<std::uint64_t> due;
  for (const auto& [id, c] : connections_) {
    if (now >= c->deadline || now >= c->write_deadline) due.push_back(id);
  }
  for (const auto id : due) {
    const auto it = connections_.find(id);
    if (it == connections_.end()) continue;
    Connection& c = *it->second;
    if (now >= c.write_deadline || c.phase == Phase::draining) {
      close(id);  // a client that does not read what it is sent, or that will not say goodbye
    } else if (c.phase == Phase::handshake) {
      begin_draining(c);
    } else if (c.phase == Phase::reading && c.framer.started()) {
      const bool body = c.body_clock;
      const int limit = body ? limits_.body_timeout_s : limits_.header_timeout_s;
      answer_error(c, 408, "timeout",
                   std::string(body ? "request body" : "request head") + " not complete within " +
                       std::to_string(limit) + " s");
    } else {
      begin_draining(c);  // idle: nothing asked, nothing to answer
    }
  }
}

void ConnectionLoop::close(std::uint64_t id) {
  const auto it = connections_.find(id);
  if (it == connections_.end()) return;
  const Connection& c = *it->second;
  if (c.address.empty()) {
    --refusing_;
  } else {
    --counted_;
    connections_gauge().set(counted_);
    const auto address = per_address_.find(c.address);
    if (address != per_address_.end() && --address->second <= 0) per_address_.erase(address);
  }
  streams_.closed(id);
  connections_.erase(it);
}

}  // namespace muster::hub
