#include <winsock2.h>
#include <ws2tcpip.h>

#include "platform/net.hpp"

namespace muster::agent::platform {

int configure_xmpp_socket(xmpp_conn_t* conn, void* socket) {
  const SOCKET s = *static_cast<SOCKET*>(socket);
  const BOOL on = TRUE;
  ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, reinterpret_cast<const char*>(&on), sizeof on);
  return xmpp_sockopt_cb_keepalive(conn, socket);
}

}  // namespace muster::agent::platform
