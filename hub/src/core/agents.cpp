#include "core/agents.hpp"

#include <fstream>
#include <sstream>

#include "core/errors.hpp"
#include "muster/proto/uuid.hpp"
#include "store/keys.hpp"

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

proto::StringMap agent_labels(const Reply& fields) {
  proto::StringMap labels;
  if (auto root = proto::parse_object(fields.field("labels").value_or("{}"))) {
    proto::FieldReader(root->get(), "").optional_labels("l", labels);
  }
  return labels;
}

proto::JsonPtr agent_json(const std::string& agent_id, const Reply& fields) {
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

Agents::Agents(Store& store, Auth& auth, const HubConfig& config, const ApiKeys& keys)
    : store_(store), auth_(auth), config_(config), keys_(keys) {
  for (const auto& region : config.regions) ca_pem_[region.name] = read_text_file(region.xmpp_ca_file);
  try {
    ensure_label_index();
  } catch (const StoreError&) {
    // The store is not there yet; the first job by label does it.
  }
}

void Agents::ask_master(const std::string& shard, const std::string& op, const std::string& jid,
                        const std::string& password) {
  // The api never talks XMPP: the shard's master runs the XEP-0133 command
  // and answers on a reply list that expires on its own.
  const std::string request_id = proto::new_uuid();
  store_.run({"XADD", keys::control_queue(shard), "MAXLEN", "~", "10000", "*", "op", op, "request", request_id,
              "jid", jid, "password", password});
  Reply answer;
  try {
    answer = store_.run({"BLPOP", keys::reply(request_id), std::to_string(kAccountTimeoutSeconds)});
  } catch (const StoreError&) {
    throw ApiError(503, "unavailable", "the store did not answer while waiting for the master");
  }
  if (answer.is_nil() || answer.elements.size() != 2) {
    throw ApiError(503, "unavailable",
                   "no master of shard " + shard + " answered within " +
                       std::to_string(kAccountTimeoutSeconds) + " s");
  }
  const std::string& result = answer.elements[1].text;
  if (result != "ok") throw ApiError(503, "unavailable", "the XMPP server refused " + op + ": " + result);
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
  } while (store_.run({"EXISTS", keys::agent(e.uuid)}).integer != 0);
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
  std::vector<Command> writes{
      {"HSET", keys::agent(e.uuid), "tenant", principal.tenant, "hostname", facts.hostname, "os", facts.os, "arch",
       facts.arch, "kernel", facts.kernel, "agent_version", facts.agent_version, "labels",
       proto::JsonBuilder().add("l", labels).dump(), "region", region.name, "shard", shard, "status",
       "offline", "enrolled_at", now, "last_seen", "0"},
      {"SADD", keys::tenant_agents(principal.tenant), e.uuid},
  };
  for (const auto& [key, value] : labels) writes.push_back({"SADD", keys::label_agents(principal.tenant, key, value), e.uuid});
  store_.pipeline(writes);
  return e;
}

std::vector<std::pair<std::string, Reply>> Agents::load_all(const std::string& tenant) {
  const Reply ids = store_.run({"SMEMBERS", keys::tenant_agents(tenant)});
  std::vector<Command> reads;
  for (const auto& id : ids.elements) reads.push_back({"HGETALL", keys::agent(id.text)});
  const auto replies = store_.pipeline(reads);
  std::vector<std::pair<std::string, Reply>> out;
  for (std::size_t i = 0; i < replies.size(); ++i) {
    if (!replies[i].elements.empty()) out.emplace_back(ids.elements[i].text, replies[i]);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.second.field("enrolled_at").value_or("") < b.second.field("enrolled_at").value_or("") ||
           (a.second.field("enrolled_at") == b.second.field("enrolled_at") && a.first < b.first);
  });
  return out;
}

std::vector<std::pair<std::string, Reply>> Agents::load_listed(const std::string& tenant,
                                                               const std::vector<std::string>& ids) {
  std::vector<Command> reads;
  for (const auto& id : ids) {
    reads.push_back({"SISMEMBER", keys::tenant_agents(tenant), id});
    reads.push_back({"HGETALL", keys::agent(id)});
  }
  const auto replies = store_.pipeline(reads);
  std::vector<std::pair<std::string, Reply>> out;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    const Reply& fields = replies[2 * i + 1];
    if (replies[2 * i].integer == 1 && !fields.elements.empty()) out.emplace_back(ids[i], fields);
  }
  return out;
}

std::vector<std::string> Agents::ids_with_labels(const std::string& tenant, const proto::StringMap& labels) {
  ensure_label_index();
  // The tenant's set is in the intersection: a revoked agent is in no result.
  Command inter{"SINTER", keys::tenant_agents(tenant)};
  for (const auto& [key, value] : labels) inter.push_back(keys::label_agents(tenant, key, value));
  std::vector<std::string> ids;
  for (const auto& id : store_.run(inter).elements) ids.push_back(id.text);
  return ids;
}

void Agents::ensure_label_index() {
  std::lock_guard<std::mutex> lock(label_index_mutex_);
  if (label_index_ready_) return;
  if (store_.run({"GET", keys::kLabelIndexVersion}).text != "1") {
    // Every agent record, by its key (the pattern matches only agent hashes),
    // into its tenant's label sets; revoked agents stay out.
    const std::string prefix = keys::agent("");
    const std::string pattern = prefix.substr(0, prefix.size() - 1) + "*}";
    std::string cursor = "0";
    do {
      const Reply page = store_.run({"SCAN", cursor, "MATCH", pattern, "COUNT", "1000"});
      if (page.elements.size() != 2) break;
      cursor = page.elements[0].text;
      std::vector<std::string> ids;
      std::vector<Command> reads;
      for (const auto& key : page.elements[1].elements) {
        const std::string id = key.text.substr(prefix.size() - 1, key.text.size() - prefix.size());
        if (!proto::is_uuid(id) || key.text != keys::agent(id)) continue;
        ids.push_back(id);
        reads.push_back({"HGETALL", key.text});
      }
      std::vector<Command> writes;
      const auto records = store_.pipeline(reads);
      for (std::size_t i = 0; i < ids.size(); ++i) {
        const std::string tenant = records[i].field("tenant").value_or("");
        if (tenant.empty() || records[i].field("status") == "revoked") continue;
        for (const auto& [k, v] : agent_labels(records[i])) writes.push_back({"SADD", keys::label_agents(tenant, k, v), ids[i]});
      }
      if (!writes.empty()) store_.pipeline(writes);
    } while (cursor != "0");
    store_.run({"SET", keys::kLabelIndexVersion, "1"});
  }
  label_index_ready_ = true;
}

std::string Agents::get_json(const Principal& principal, const std::string& agent_id) {
  if (!proto::is_uuid(agent_id)) throw ApiError(404, "not_found", "no agent " + agent_id);
  const Reply fields = store_.run({"HGETALL", keys::agent(agent_id)});
  if (fields.elements.empty() || fields.field("tenant") != principal.tenant) {
    throw ApiError(404, "not_found", "no agent " + agent_id);
  }
  return proto::dump(agent_json(agent_id, fields).get());
}

std::string Agents::revoke(const Principal& principal, const std::string& agent_id) {
  if (!proto::is_uuid(agent_id)) throw ApiError(404, "not_found", "no agent " + agent_id);
  const Reply fields = store_.run({"HGETALL", keys::agent(agent_id)});
  if (fields.elements.empty() || fields.field("tenant") != principal.tenant) {
    throw ApiError(404, "not_found", "no agent " + agent_id);
  }
  if (fields.field("status") != "revoked") {
    const RegionConfig* region = config_.region(fields.field("region").value_or(""));
    if (region == nullptr) throw ApiError(500, "internal", "agent " + agent_id + " has an unknown region");
    // Refuse it first, then remove its account: nothing it sends counts from now on.
    std::vector<Command> writes{
        {"SADD", keys::kRevokedAgents, agent_id},
        {"HSET", keys::agent(agent_id), "status", "revoked", "revoked_at", std::to_string(unix_seconds())},
        {"SREM", keys::tenant_agents(principal.tenant), agent_id}};
    for (const auto& [k, v] : agent_labels(fields)) {
      writes.push_back({"SREM", keys::label_agents(principal.tenant, k, v), agent_id});
    }
    store_.pipeline(writes);
    ask_master(fields.field("shard").value_or(""), "delete-user", agent_id + "@" + region->xmpp_domain, "");
  }
  return proto::dump(agent_json(agent_id, store_.run({"HGETALL", keys::agent(agent_id)})).get());
}

std::string Agents::list_json(const Principal& principal) {
  proto::JsonPtr list(cJSON_CreateArray());
  for (const auto& [id, fields] : load_all(principal.tenant)) {
    cJSON_AddItemToArray(list.get(), agent_json(id, fields).release());
  }
  return proto::JsonBuilder().add_node("agents", std::move(list)).dump();
}

}  // namespace muster::hub
