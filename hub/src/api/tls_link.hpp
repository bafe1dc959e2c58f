#pragma once
// One accepted client socket, non-blocking, plain or TLS. TLS runs OpenSSL
// on the SSL_CTX of Poco's Context directly: Poco's secure sockets do their
// handshake blocking inside a worker, which is what lets a client that never
// speaks TLS hold that worker.
#include <cstddef>
#include <string>

#include <openssl/ssl.h>

namespace muster::hub {

class TlsLink {
 public:
  enum class Io { ok, again, closed };

  // Takes ownership of `fd`; `tls` null: plain TCP.
  TlsLink(int fd, SSL_CTX* tls);
  ~TlsLink();
  TlsLink(const TlsLink&) = delete;
  TlsLink& operator=(const TlsLink&) = delete;

  bool secure() const { return tls_wanted_; }
  int fd() const { return fd_; }
  Io handshake();
  // Appends what can be read now, at most `limit` bytes.
  Io receive(std::string& into, std::size_t limit);
  // Writes what it can of data; `written` says how much.
  Io send(const char* data, std::size_t size, std::size_t& written);
  // Ends our side of the stream (TLS close_notify, then FIN); reads may go on.
  void finish();
  // The poll events the link needs for the wished direction(s).
  short poll_events(bool want_read, bool want_write) const;

 private:
  Io tls_result(int rc);

  int fd_;
  bool tls_wanted_;
  SSL* ssl_ = nullptr;
  short tls_wants_ = 0;  // the other direction TLS needs to progress
  bool finished_ = false;
};

}  // namespace muster::hub
