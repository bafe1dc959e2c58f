#pragma once
// Every api connection, in one thread: accept with caps per client address
// and in total, the TLS handshake, a request's head and body each within
// its timeout, answers, and event streams. A complete request goes to the
// worker pool (the RequestSink), so nothing a client does or fails to do
// holds a worker. Every refusal below the handlers is a JSON answer or,
// where none can be given (no TLS yet), a clean close.
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <openssl/ssl.h>

#include "api/event_streams.hpp"
#include "api/rate_limiter.hpp"
#include "api/request_framing.hpp"
#include "api/tls_link.hpp"
#include "config.hpp"

namespace muster::hub {

class ConnectionLoop final : public StreamOutlet {
 public:
  using RequestSink = std::function<void(std::uint64_t connection, FramedRequest request,
                                         const Poco::Net::SocketAddress& client, bool secure)>;

  // `tls` null: plain HTTP.
  ConnectionLoop(Poco::Net::ServerSocket socket, SSL_CTX* tls, const HubConfig::ApiLimits& limits, RequestSink sink,
                 StreamRegistry& streams);
  ~ConnectionLoop() override;
  void start();
  void stop();
  unsigned short port() const { return socket_.address().port(); }
  Poco::Net::SocketAddress address() const { return socket_.address(); }

  // A handler's answer (from any thread); with `stream` the connection then
  // carries that event stream.
  void answer(std::uint64_t connection, std::string bytes, bool keep_alive, std::optional<StreamWish> stream);
  void push(std::vector<StreamPush> pushes) override;

 private:
  using Clock = std::chrono::steady_clock;
  enum class Phase { handshake, reading, working, streaming, draining };
  struct Connection {
    std::uint64_t id = 0;
    std::unique_ptr<TlsLink> link;
    Poco::Net::SocketAddress peer;
    std::string address;  // counted against the caps; "" for a refused one
    Phase phase = Phase::reading;
    Clock::time_point deadline = Clock::time_point::max();
    Clock::time_point write_deadline = Clock::time_point::max();
    RequestFramer framer;
    bool body_clock = false;  // `deadline` is the body's
    std::string out;
    std::size_t out_sent = 0;
    bool close_after_write = false;
    bool read_after_write = false;
    explicit Connection(const FramingLimits& limits) : framer(limits) {}
  };
  struct Delivery {
    std::uint64_t connection;
    std::shared_ptr<const std::string> bytes;
    bool keep_alive;
    bool end;
    bool is_answer;
    std::optional<StreamWish> stream;
  };

  void run();
  short events_for(const Connection& c) const;
  Clock::time_point poll_and_dispatch(Clock::time_point next);
  void take_mailbox();
  void deliver(const Delivery& d);
  void accept_all();
  void admit(int fd, const Poco::Net::SocketAddress& peer, const std::string& address);
  void refuse(int fd, const std::string& reason);
  void on_ready(Connection& c, short revents);
  void handshake(Connection& c);
  void read_request(Connection& c);
  void after_framing(Connection& c);
  void discard_input(Connection& c);
  void queue(Connection& c, const std::string& bytes);
  void flush(Connection& c);
  void after_write(Connection& c);
  void answer_error(Connection& c, int status, const std::string& code, const std::string& message,
                    int retry_after_s = 0);
  void begin_draining(Connection& c);
  void expire(Clock::time_point now);
  void close(std::uint64_t id);
  void raise_fd_limit() const;

  Poco::Net::ServerSocket socket_;
  SSL_CTX* tls_;
  const HubConfig::ApiLimits limits_;
  FramingLimits framing_;
  RequestSink sink_;
  StreamRegistry& streams_;
  RateLimiter address_rate_;
  const std::unordered_set<std::string> rate_exempt_;
  int wake_fd_ = -1;
  std::thread thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mailbox_mutex_;
  std::vector<Delivery> mailbox_;

  // The loop thread's own.
  std::map<std::uint64_t, std::unique_ptr<Connection>> connections_;
  std::unordered_map<std::string, int> per_address_;
  int counted_ = 0;
  int refusing_ = 0;
  std::uint64_t next_id_ = 1;
  Clock::time_point accept_paused_until_{};
};

}  // namespace muster::hub
