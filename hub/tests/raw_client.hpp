#pragma once
// A bare TCP client for the api's tests: sends exactly the bytes a test
// gives (malformed, slow or none at all) and reads what comes back.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

namespace muster::hub::testing {

class RawClient {
 public:
  // From `source` (any 127.x.y.z address) to 127.0.0.1:port.
  explicit RawClient(unsigned short port, const char* source = nullptr) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source, &local.sin_addr);
      ::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local);
    }
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~RawClient() { ::close(fd_); }
  RawClient(const RawClient&) = delete;
  RawClient& operator=(const RawClient&) = delete;

  bool connected() const { return connected_; }
  bool send(const std::string& bytes) {
    return ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size());
  }
  // Waits for what comes next, once.
  void read_some(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, timeout_ms) <= 0) return;
    char buffer[65536];
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n <= 0) {
      closed_ = true;
      return;
    }
    received_.append(buffer, static_cast<std::size_t>(n));
  }
  // Reads until `until` appears, the server closes, or `timeout_ms` passes.
  std::string read(int timeout_ms, const std::string& until = "") {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
      if (!until.empty() && received_.find(until) != std::string::npos) break;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[65536];
      const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
      if (n <= 0) {
        closed_ = true;
        break;
      }
      received_.append(buffer, static_cast<std::size_t>(n));
    }
    return received_;
  }
  // Reads one answer with a Content-Length (or until the server closes).
  std::string read_answer(int timeout_ms) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (!closed_ && std::chrono::steady_clock::now() < end) {
      const auto head_end = received_.find("\r\n\r\n");
      const auto length_at = received_.find("Content-Length: ");
      if (head_end != std::string::npos && length_at != std::string::npos && length_at < head_end &&
          received_.size() >= head_end + 4 + std::stoul(received_.substr(length_at + 16))) {
        break;
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
      read_some(static_cast<int>(left.count()) + 1);
    }
    return received_;
  }
  // Whether the server closed the connection (read() saw the end).
  bool closed() const { return closed_; }
  const std::string& received() const { return received_; }
  // "HTTP/1.1 408 ..." -> 408; 0 without a status line.
  int status() const { return received_.size() > 12 ? std::atoi(received_.substr(9, 3).c_str()) : 0; }
  std::string body() const {
    const auto at = received_.find("\r\n\r\n");
    return at == std::string::npos ? "" : received_.substr(at + 4);
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::string received_;
};

}  // namespace muster::hub::testing
