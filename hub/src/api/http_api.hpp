#pragma once
// The api role's HTTP(S) server: the connection loop (api/connection_loop.hpp)
// holds every client connection, a pool of `api.threads` workers runs the
// route table's handlers (api/routes.hpp) on complete requests, and the
// event streams (api/event_streams.hpp) serve live job events without a
// worker. Authentication and access checks come from the route table, every
// error is JSON, and every write is audited.
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

#include <Poco/Net/Context.h>
#include <Poco/Net/HTTPServerParams.h>

#include "api/connection_loop.hpp"
#include "api/event_streams.hpp"
#include "api/rate_limiter.hpp"
#include "api/routes.hpp"

namespace muster::hub {

class HttpApi {
 public:
  explicit HttpApi(ApiServices services);
  ~HttpApi();
  void start();
  void stop();
  unsigned short port() const;

 private:
  struct Work {
    std::uint64_t connection;
    FramedRequest request;
    Poco::Net::SocketAddress client;
    bool secure;
  };
  void enqueue(Work work);
  void work();
  void serve(Work& work);

  ApiServices services_;
  Poco::Net::Context::Ptr tls_;
  Poco::Net::HTTPServerParams::Ptr params_;  // only for serverParams(): the loop holds the limits
  RateLimiter token_rate_;
  std::unordered_set<std::string> rate_exempt_;
  std::unique_ptr<EventStreams> streams_;
  std::unique_ptr<ConnectionLoop> loop_;
  std::mutex work_mutex_;
  std::condition_variable work_ready_;
  std::deque<Work> queue_;
  bool stopping_ = false;
  std::vector<std::thread> workers_;
};

}  // namespace muster::hub
