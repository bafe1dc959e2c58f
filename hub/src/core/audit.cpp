#include "core/audit.hpp"

#include "core/errors.hpp"
#include "core/tasks.hpp"
#include "muster/proto/log.hpp"
#include "muster/proto/json.hpp"

namespace muster::hub {
namespace {

constexpr std::size_t kMaxPath = 512;

}  // namespace

void Audit::record(const Principal& p, const AuditEntry& e) {
  try {
    store_.append_audit(p.tenant, {{"at", format_time(unix_time())},
                                   {"token", p.token_id},
                                   {"kind", p.kind == TokenKind::api ? "api" : "enroll"},
                                   {"role", to_string(p.role)},
                                   {"method", e.method},
                                   {"path", e.path.substr(0, kMaxPath)},
                                   {"from", e.from},
                                   {"status", std::to_string(e.status)}});
  } catch (const StoreError& error) {
    log::error("api", std::string("audit not recorded: ") + error.what());
  }
}

std::string Audit::list_json(const Principal& p, std::size_t limit) {
  require_role(p, Role::admin);
  proto::JsonPtr list(cJSON_CreateArray());
  for (const auto& [id, f] : store_.recent_audit(p.tenant, limit)) {
    proto::JsonBuilder b;
    b.add("id", id);
    for (const char* name : {"token", "kind", "role", "method", "path", "from"}) b.add(name, f.field(name).value_or(""));
    double at = 0;
    std::int64_t status = 0;
    try {
      at = std::stod(f.field("at").value_or("0"));
      status = std::stoll(f.field("status").value_or("0"));
    } catch (const std::exception&) {
      // A damaged entry shows zeros rather than failing the whole list.
    }
    b.add("at", at).add("status", status);
    cJSON_AddItemToArray(list.get(), b.release().release());
  }
  return proto::JsonBuilder().add_node("entries", std::move(list)).dump();
}

}  // namespace muster::hub
