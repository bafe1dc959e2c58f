#include <sys/utsname.h>
#include <unistd.h>

#include <cctype>
#include <string>

#include "platform/facts.hpp"

namespace muster::agent::platform {

proto::Facts collect_facts() {
  proto::Facts facts;
  utsname u{};
  if (::uname(&u) == 0) {
    std::string os = u.sysname;
    for (auto& c : os) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    facts.os = os;
    facts.arch = u.machine;
    facts.kernel = u.release;
    facts.hostname = u.nodename;
  }
  char host[256] = {};
  if (::gethostname(host, sizeof host - 1) == 0 && host[0] != '\0') facts.hostname = host;
  return facts;
}

}  // namespace muster::agent::platform
