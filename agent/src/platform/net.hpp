#pragma once
#include <strophe.h>

namespace muster::agent::platform {

// libstrophe socket option callback: TCP keepalive (libstrophe's defaults)
// plus TCP_NODELAY, since tasks and results are small stanzas where Nagle's
// delay would dominate the latency.
int configure_xmpp_socket(xmpp_conn_t* conn, void* socket);

}  // namespace muster::agent::platform
