#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "platform/net.hpp"

namespace muster::agent::platform {

int configure_xmpp_socket(xmpp_conn_t* conn, void* socket) {
  const int fd = *static_cast<int*>(socket);
  const int on = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);
  return xmpp_sockopt_cb_keepalive(conn, socket);
}

}  // namespace muster::agent::platform
