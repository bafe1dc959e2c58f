#pragma once
// Every API write by a known token, refused or not, in its tenant's audit
// stream: who, what, when, from where, with what outcome. Requests without a
// valid token have no tenant to record under.
#include <cstddef>
#include <string>

#include "core/auth.hpp"
#include "store/api_store.hpp"

namespace muster::hub {

struct AuditEntry {
  std::string method, path, from;
  int status = 0;
};

class Audit {
 public:
  explicit Audit(ApiStore& store) : store_(store) {}
  // Never throws: an audit that cannot be written is logged.
  void record(const Principal& principal, const AuditEntry& entry);
  // The tenant's newest `limit` entries (admin only).
  std::string list_json(const Principal& principal, std::size_t limit);

 private:
  ApiStore& store_;
};

}  // namespace muster::hub
