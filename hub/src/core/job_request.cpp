#include "core/job_request.hpp"

#include <algorithm>

#include "core/errors.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {

ApiError bad_request(const proto::Error& e) { return ApiError(400, proto::to_string(e.code), e.message); }

// A limit given as a count (3) or a share of the job ("10%").
void read_limit(proto::FieldReader& r, const cJSON* root, const char* key, std::string& out) {
  const cJSON* node = cJSON_GetObjectItemCaseSensitive(root, key);
  if (!r.ok() || node == nullptr || cJSON_IsNull(node)) return;
  if (cJSON_IsNumber(node)) {
    std::int64_t n = 0;
    r.required(key, n, 1, 1000000);
    if (r.ok()) out = std::to_string(n);
    return;
  }
  std::string text;
  if (cJSON_IsString(node)) text = node->valuestring;
  const bool percent = text.size() >= 2 && text.size() <= 4 && text.back() == '%' &&
                       text.find_first_not_of("0123456789") == text.size() - 1;
  const int value = percent ? std::stoi(text.substr(0, text.size() - 1)) : 0;
  if (!percent || value < 1 || value > 100) {
    r.fail(proto::ErrorCode::invalid_field, std::string(key) + " must be a count (1..1000000) or a percentage (\"1%\"..\"100%\")");
    return;
  }
  out = text;
}

}  // namespace

std::int64_t resolve_limit(const std::string& limit, std::size_t total) {
  if (limit.empty()) return 0;
  if (limit.back() != '%') return std::stoll(limit);
  const auto percent = std::stoll(limit.substr(0, limit.size() - 1));
  return std::max<std::int64_t>(1, (static_cast<std::int64_t>(total) * percent + 99) / 100);
}

JobRequest parse_job_request(const std::string& body) {
  auto root = proto::parse_object(body);
  if (!root) throw bad_request(root.error());
  JobRequest req;
  const cJSON* targets = nullptr;
  proto::FieldReader r(root->get(), "");
  r.only({"command", "argv", "targets", "timeout_s", "output_quota", "deadline_s", "concurrency", "max_failures",
          "as_root"})
      .no_nulls()
      .optional("as_root", req.as_root)
      .optional("command", req.command, proto::kMaxCommandBytes)
      .optional("argv", req.argv, proto::kMaxArgvItems, proto::kMaxCommandBytes)
      .optional("timeout_s", req.timeout_s, 1, proto::kMaxTimeoutSeconds)
      .optional("output_quota", req.output_quota, proto::kMinOutputQuota, proto::kMaxOutputQuota)
      .optional("deadline_s", req.deadline_s, 1, 30LL * 86400)
      .optional_object("targets", targets);
  read_limit(r, root->get(), "concurrency", req.concurrency);
  read_limit(r, root->get(), "max_failures", req.max_failures);
  if (r.ok() && req.command.has_value() == r.has("argv")) {
    r.fail(proto::ErrorCode::missing_field, "give exactly one of command (a shell command) and argv (an array)");
  }
  if (r.ok() && req.command && req.command->empty()) r.fail(proto::ErrorCode::invalid_field, "command is empty");
  if (r.ok() && !req.command && req.argv.empty()) r.fail(proto::ErrorCode::invalid_field, "argv is empty");
  if (r.ok() && targets == nullptr) r.fail(proto::ErrorCode::missing_field, "targets is required");
  if (!r.ok()) throw bad_request(*r.error());

  proto::FieldReader t(targets, "targets");
  const cJSON* facts = nullptr;
  t.only({"agents", "labels", "regions", "facts", "all"})
      .no_nulls()
      .optional("agents", req.target_agents, 100000, 36)
      .optional_labels("labels", req.target_labels)
      .optional("regions", req.target_regions, 64, 64)
      .optional_object("facts", facts)
      .optional("all", req.target_all);
  if (t.ok() && facts != nullptr) {
    proto::FieldReader f(facts, "targets.facts");
    std::optional<std::string> os, arch;
    f.only({"os", "arch"}).no_nulls().optional("os", os, 64).optional("arch", arch, 64);
    if (!f.ok()) throw bad_request(*f.error());
    if (os) req.target_facts["os"] = *os;
    if (arch) req.target_facts["arch"] = *arch;
  }
  for (const auto& id : req.target_agents) {
    if (t.ok() && !proto::is_uuid(id)) t.fail(proto::ErrorCode::invalid_field, "targets.agents: \"" + id + "\" is not an agent id");
  }
  req.has_filter = req.target_all || t.has("labels") || t.has("regions") || t.has("facts");
  if (t.ok() && req.target_agents.empty() && !req.has_filter) {
    t.fail(proto::ErrorCode::missing_field, "targets needs agents, labels, regions, facts or all");
  }
  if (!t.ok()) throw bad_request(*t.error());
  return req;
}


}  // namespace muster::hub
