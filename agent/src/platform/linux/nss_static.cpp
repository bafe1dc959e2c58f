// Name lookups of a fully static glibc agent.
//
// glibc >= 2.34 has the "files" and "dns" NSS services built in, but any
// other service named in the host's /etc/nsswitch.conf (myhostname, mdns,
// sss, systemd, resolve, ...) is dlopen'ed together with the host's libc.so,
// which does not match the libc linked into this binary: on an older distro
// the process aborts in _dl_call_libc_early_init. Restricting the databases
// the agent uses to the built-in services keeps every lookup inside this
// binary: host names from /etc/hosts and DNS (/etc/resolv.conf), users from
// /etc/passwd.
#include "platform/posix/name_lookup.hpp"

extern "C" int __nss_configure_lookup(const char* db, const char* service_line);

namespace muster::agent::platform {

void configure_name_lookup() {
  __nss_configure_lookup("hosts", "files dns");
  __nss_configure_lookup("passwd", "files");
  __nss_configure_lookup("group", "files");
}

}  // namespace muster::agent::platform
