#include "core/agents.hpp"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "core/errors.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {

constexpr int kAccountTimeoutSeconds = 10;

std::string read_text_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::int64_t to_int(const std::optional<std::string>& text) {
  if (!text || text->empty()) return 0;
  try {
    return std::stoll(*text);
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

proto::StringMap agent_labels(const Record& fields) { return labels_of(fields); }

proto::JsonPtr agent_json(const std::string& agent_id, const Record& fields) {
  auto text = [&](const char* name) { return fields.field(name).value_or(""); };
  return proto::JsonBuilder()
      .add("id", agent_id)
      .add("hostname", text("hostname"))
      .add("os", text("os"))
      .add("arch", text("arch"))
      .add("kernel", text("kernel"))
      .add("agent_version", text("agent_version"))
      .add("labels", agent_labels(fields))
      .add("region", text("region"))
      .add("shard", text("shard"))
      .add("status", fields.field("status").value_or("offline"))
      .add("enrolled_at", to_int(fields.field("enrolled_at")))
      .add("last_seen", to_int(fields.field("last_seen")))
      .release();
}

Agents::Agents(ApiStore& store, Auth& auth, const HubConfig& config, const ApiKeys& keys)
    : store_(store), auth_(auth), config_(config), keys_(keys) {
  for (const auto& region : config.regions) ca_pem_[region.name] = read_text_file(region.xmpp_ca_file);
  try {
    ensure_agent_indexes();
  } catch (const StoreError&) {
    // The store is not there yet; the first job by label does it.
  }
}

void Agents::ask_master(const std::string& shard, const std::string& op, const std::string& jid,
                        const std::string& password) {
  // The api never talks XMPP: the shard's master runs the XEP-0133 command.
  std::optional<std::string> answer;
  try {
    answer = store_.change_account(shard, op, jid, password, kAccountTimeoutSeconds);
  } catch (const StoreError&) {
    throw ApiError(503, "unavailable", "the store did not answer while waiting for the master");
  }
  if (!answer) {
    throw ApiError(503, "unavailable",
                   "no master of shard " + shard + " answered within " +
                       std::to_string(kAccountTimeoutSeconds) + " s");
  }
  if (*answer != "ok") throw ApiError(503, "unavailable", "the XMPP server refused " + op + ": " + *answer);
}

proto::Enrollment Agents::enroll(const Principal& principal, const std::string& body) {
  if (principal.kind != TokenKind::enroll) throw ApiError(403, "forbidden", "enrollment needs an enrollment token");
  auto root = proto::parse_object(body);
  if (!root) throw ApiError(400, proto::to_string(root.error().code), root.error().message);
  proto::FieldReader strict(root->get(), "");
  if (!strict.no_nulls().ok()) throw ApiError(400, proto::to_string(strict.error()->code), strict.error()->message);
  auto facts = proto::decode_facts(root->get());
  if (!facts) throw ApiError(400, proto::to_string(facts.error().code), facts.error().message);

  proto::StringMap labels = principal.labels;
  for (const auto& [k, v] : facts->labels) labels[k] = v;

  const RegionConfig* region = principal.region.empty() ? &config_.regions.front() : config_.region(principal.region);
  if (region == nullptr) throw ApiError(400, "invalid_field", "the token's region " + principal.region + " is not configured");

  const long max_agents = principal.quotas.agents;
  if (max_agents > 0 && store_.tenant_agent_count(principal.tenant) >= static_cast<std::size_t>(max_agents)) {
    throw ApiError(403, "quota_exceeded",
                   "tenant " + principal.tenant + " has the " + std::to_string(max_agents) + " agents its quota allows");
  }
  // Only a request that validated takes a use, and an enrollment that fails
  // after that (no master answered, the store went away) gives it back.
  auth_.consume_enroll_use(principal);
  try {
    return register_agent(principal, *facts, labels, *region);
  } catch (...) {
    try {
      auth_.refund_enroll_use(principal);
    } catch (const StoreError&) {
      // The store is gone too; the original error says more.
    }
    throw;
  }
}

proto::Enrollment Agents::register_agent(const Principal& principal, const proto::Facts& facts,
                                         const proto::StringMap& labels, const RegionConfig& region) {
  proto::Enrollment e;
  do {
    e.uuid = proto::new_uuid();  // never the id of an agent that exists or existed
  } while (store_.agent_id_used(e.uuid));
  // A stable spread of agents over the region's shards.
  const std::string& shard = region.shards[std::hash<std::string>{}(e.uuid) % region.shards.size()];
  e.jid = e.uuid + "@" + region.xmpp_domain;
  e.password = proto::random_hex(24);
  e.xmpp_host = region.xmpp_host;
  e.xmpp_port = region.xmpp_port;
  e.xmpp_domain = region.xmpp_domain;
  e.ca_pem = ca_pem_.at(region.name);
  e.master_jid = shard;
  e.signing_keys = keys_.public_pems;
  ask_master(shard, "add-user", e.jid, e.password);

  const auto now = std::to_string(unix_seconds());
  store_.put_agent(e.uuid, principal.tenant,
                   Record{{{"tenant", principal.tenant},
                           {"hostname", facts.hostname},
                           {"os", facts.os},
                           {"arch", facts.arch},
                           {"kernel", facts.kernel},
                           {"agent_version", facts.agent_version},
                           {"labels", labels_field(labels)},
                           {"region", region.name},
                           {"shard", shard},
                           {"status", "offline"},
                           {"enrolled_at", now},
                           {"last_seen", "0"}}},
                   labels);
  return e;
}

IdRecords Agents::load_all(const std::string& tenant) {
  IdRecords out = store_.tenant_agents(tenant);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.field("enrolled_at").value_or("") < b.second.field("enrolled_at").value_or("") ||
           (a.second.field("enrolled_at") == b.second.field("enrolled_at") && a.first < b.first);
  });
  return out;
}

IdRecords Agents::load_listed(const std::string& tenant, const std::vector<std::string>& ids) {
  return store_.tenant_agents_among(tenant, ids);
}

std::vector<std::string> Agents::ids_with_labels(const std::string& tenant, const proto::StringMap& labels) {
  ensure_agent_indexes();
  return store_.agents_with_labels(tenant, labels);
}

void Agents::ensure_agent_indexes() {
  std::lock_guard<std::mutex> lock(agent_indexes_mutex_);
  if (agent_indexes_ready_) return;
  store_.ensure_agent_indexes();
  agent_indexes_ready_ = true;
}

std::string Agents::get_json(const Principal& principal, const std::string& agent_id) {
  if (!proto::is_uuid(agent_id)) throw ApiError(404, "not_found", "no agent " + agent_id);
  const Record fields = store_.agent(agent_id);
  if (fields.empty() || fields.field("tenant") != principal.tenant) {
    throw ApiError(404, "not_found", "no agent " + agent_id);
  }
  return proto::dump(agent_json(agent_id, fields).get());
}

std::string Agents::revoke(const Principal& principal, const std::string& agent_id) {
  if (!proto::is_uuid(agent_id)) throw ApiError(404, "not_found", "no agent " + agent_id);
  const Record fields = store_.agent(agent_id);
  if (fields.empty() || fields.field("tenant") != principal.tenant) {
    throw ApiError(404, "not_found", "no agent " + agent_id);
  }
  if (fields.field("status") != "revoked") {
    const RegionConfig* region = config_.region(fields.field("region").value_or(""));
    if (region == nullptr) throw ApiError(500, "internal", "agent " + agent_id + " has an unknown region");
    // Refuse it first, then remove its account: nothing it sends counts from now on.
    store_.revoke_agent(agent_id, principal.tenant, agent_labels(fields));
    ask_master(fields.field("shard").value_or(""), "delete-user", agent_id + "@" + region->xmpp_domain, "");
  }
  return proto::dump(agent_json(agent_id, store_.agent(agent_id)).get());
}

std::string Agents::list_json(const Principal& principal, const Page& page) {
  // The cursor is the id of the last agent of the page before.
  if (!page.cursor.empty() && !proto::is_uuid(page.cursor)) {
    throw ApiError(400, "invalid_field", "cursor must be the next_cursor of a previous page");
  }
  ensure_agent_indexes();
  const auto found = store_.tenant_agent_page(principal.tenant, page.cursor, page.limit);
  proto::JsonPtr list(cJSON_CreateArray());
  for (const auto& [id, fields] : found.agents) cJSON_AddItemToArray(list.get(), agent_json(id, fields).release());
  proto::JsonBuilder b;
  b.add_node("agents", std::move(list)).add("total", static_cast<std::int64_t>(found.total));
  if (found.more) {
    b.add("next_cursor", found.agents.back().first);
  } else {
    b.add_null("next_cursor");
  }
  return b.dump();
}

}  // namespace muster::hub
