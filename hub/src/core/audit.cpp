#include "core/audit.hpp"

#include "core/errors.hpp"
#include "core/tasks.hpp"
#include "muster/proto/log.hpp"
#include "muster/proto/json.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

constexpr const char* kAuditLength = "100000";
constexpr std::size_t kMaxPath = 512;

}  // namespace

void Audit::record(const Principal& p, const AuditEntry& e) {
  try {
    store_.run({"XADD", keys::audit(p.tenant), "MAXLEN", "~", kAuditLength, "*", "at", format_time(unix_time()),
                "token", p.token_id, "kind", p.kind == TokenKind::api ? "api" : "enroll", "role", to_string(p.role),
                "method", e.method, "path", e.path.substr(0, kMaxPath), "from", e.from, "status",
                std::to_string(e.status)});
  } catch (const StoreError& error) {
    log::error("api", std::string("audit not recorded: ") + error.what());
  }
}

std::string Audit::list_json(const Principal& p, std::size_t limit) {
  require_role(p, Role::admin);
  const Reply entries = store_.run({"XREVRANGE", keys::audit(p.tenant), "+", "-", "COUNT", std::to_string(limit)});
  proto::JsonPtr list(cJSON_CreateArray());
  for (const auto& entry : entries.elements) {
    if (entry.elements.size() != 2) continue;
    const Reply& f = entry.elements[1];
    proto::JsonBuilder b;
    b.add("id", entry.elements[0].text);
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
