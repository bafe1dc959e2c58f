#include "api/tls_link.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include <openssl/err.h>

namespace muster::hub {

TlsLink::TlsLink(int fd, SSL_CTX* tls) : fd_(fd), tls_wanted_(tls != nullptr) {
  if (tls == nullptr) return;
  ssl_ = SSL_new(tls);
  if (ssl_ == nullptr || SSL_set_fd(ssl_, fd_) != 1) return;
  // The bytes still to write live in a string that may grow (and move)
  // between a write that would block and its retry.
  SSL_set_mode(ssl_, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  SSL_set_accept_state(ssl_);
}

TlsLink::~TlsLink() {
  if (ssl_ != nullptr) SSL_free(ssl_);
  ::close(fd_);
}

TlsLink::Io TlsLink::tls_result(int rc) {
  tls_wants_ = 0;
  if (rc > 0) return Io::ok;
  switch (SSL_get_error(ssl_, rc)) {
    case SSL_ERROR_WANT_READ: tls_wants_ = POLLIN; return Io::again;
    case SSL_ERROR_WANT_WRITE: tls_wants_ = POLLOUT; return Io::again;
    default: ERR_clear_error(); return Io::closed;
  }
}

TlsLink::Io TlsLink::handshake() {
  if (ssl_ == nullptr) return tls_wanted_ ? Io::closed : Io::ok;  // no TLS object: refuse, never serve plain
  ERR_clear_error();
  return tls_result(SSL_do_handshake(ssl_));
}

TlsLink::Io TlsLink::receive(std::string& into, std::size_t limit) {
  char buffer[16384];
  std::size_t got = 0;
  while (got < limit) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      const int rc = SSL_read(ssl_, buffer, static_cast<int>(sizeof buffer));
      const Io io = tls_result(rc);
      if (io != Io::ok) return io;
      into.append(buffer, static_cast<std::size_t>(rc));
      got += static_cast<std::size_t>(rc);
      continue;
    }
    const ssize_t n = ::recv(fd_, buffer, sizeof buffer, 0);
    if (n > 0) {
      into.append(buffer, static_cast<std::size_t>(n));
      got += static_cast<std::size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
      return Io::again;
    } else {
      return Io::closed;
    }
  }
  return Io::ok;
}

TlsLink::Io TlsLink::send(const char* data, std::size_t size, std::size_t& written) {
  written = 0;
  while (written < size) {
    if (ssl_ != nullptr) {
      ERR_clear_error();
      const int rc = SSL_write(ssl_, data + written, static_cast<int>(std::min<std::size_t>(size - written, 1 << 20)));
      const Io io = tls_result(rc);
      if (io != Io::ok) return io;
      written += static_cast<std::size_t>(rc);
      continue;
    }
    const ssize_t n = ::send(fd_, data + written, size - written, MSG_NOSIGNAL);
    if (n >= 0) {
      written += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
      return Io::again;
    } else {
      return Io::closed;
    }
  }
  return Io::ok;
}

void TlsLink::finish() {
  if (finished_) return;
  finished_ = true;
  if (ssl_ != nullptr && SSL_is_init_finished(ssl_)) {
    ERR_clear_error();
    SSL_shutdown(ssl_);  // one try: a close_notify that does not fit is not waited for
    ERR_clear_error();
  }
  ::shutdown(fd_, SHUT_WR);
}

short TlsLink::poll_events(bool want_read, bool want_write) const {
  short events = static_cast<short>((want_read ? POLLIN : 0) | (want_write ? POLLOUT : 0));
  if (events != 0 || (ssl_ != nullptr && !SSL_is_init_finished(ssl_))) events = static_cast<short>(events | tls_wants_);
  return events;
}

}  // namespace muster::hub
