#pragma once
// A private redis-server on a free loopback port for the hub's unit tests,
// started once per test suite; a store connected to it, emptied per test.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

#include "store/store.hpp"

namespace muster::hub::testing {

inline unsigned short free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

class RedisServer {
 public:
  RedisServer() : port_(free_port()) {
    pid_ = ::fork();
    if (pid_ == 0) {
      const std::string port = std::to_string(port_);
      ::execlp("redis-server", "redis-server", "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--logfile", "/dev/null", static_cast<char*>(nullptr));
      std::_Exit(127);
    }
  }
  ~RedisServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  RedisServer(const RedisServer&) = delete;
  RedisServer& operator=(const RedisServer&) = delete;
  unsigned short port() const { return port_; }

  // A store on this server, once it answers, emptied.
  std::unique_ptr<Store> fresh_store(std::size_t pool = 4) const {
    auto store = std::make_unique<Store>(StoreConfig{"127.0.0.1", port_, ""}, pool);
    for (int i = 0; i < 100; ++i) {
      try {
        if (store->run({"PING"}).text == "PONG") break;
      } catch (const std::exception&) {
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    store->run({"FLUSHALL"});
    return store;
  }

 private:
  unsigned short port_;
  pid_t pid_ = -1;
};

// A test suite that shares one private redis-server among its tests.
class RedisSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { server_ = new RedisServer(); }
  static void TearDownTestSuite() {
    delete server_;
    server_ = nullptr;
  }
  static inline RedisServer* server_ = nullptr;
};

}  // namespace muster::hub::testing
