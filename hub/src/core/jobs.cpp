#include "core/jobs.hpp"

#include <algorithm>
#include <cstdio>
#include <set>

#include <Poco/NumberParser.h>

#include "core/errors.hpp"
#include "metrics/metrics.hpp"
#include "core/job_request.hpp"
#include "core/tasks.hpp"
#include "muster/proto/signing.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::hub {
namespace {

// More tasks than any job can have: a cursor past it is not an offset of ours.
constexpr Poco::UInt64 kMaxTaskOffset = 1000000000;

std::optional<std::int64_t> int_field(const Record& fields, const char* name) {
  const auto text = fields.field(name);
  if (!text || text->empty()) return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void add_time(proto::JsonBuilder& b, const char* key, const Record& fields) {
  const auto text = fields.field(key);
  if (!text || text->empty()) {
    b.add_null(key);
    return;
  }
  try {
    b.add(key, std::stod(*text));
  } catch (const std::exception&) {
    b.add_null(key);
  }
}

bool labels_match(const proto::StringMap& wanted, const proto::StringMap& have) {
  for (const auto& [k, v] : wanted) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

proto::JsonPtr job_json(const std::string& job_id, const Record& fields) {
  proto::JsonBuilder b;
  b.add("id", job_id);
  if (auto command = fields.field("command"); command && !command->empty()) {
    b.add("command", *command);
  } else if (auto argv = proto::parse_object("{\"a\":" + fields.field("argv").value_or("[]") + "}")) {
    std::vector<std::string> items;
    proto::FieldReader(argv->get(), "").optional("a", items, proto::kMaxArgvItems, proto::kMaxCommandBytes);
    b.add("argv", items);
  }
  b.add("state", fields.field("state").value_or("running"));
  add_time(b, "created_at", fields);
  add_time(b, "finished_at", fields);
  b.add("timeout_s", int_field(fields, "timeout_s").value_or(0));
  add_time(b, "deadline", fields);
  auto limit = [&](const char* given, const char* resolved) {
    if (fields.field(given).value_or("").empty()) {
      b.add_null(given == std::string("concurrency_given") ? "concurrency" : "max_failures");
    } else {
      b.add(resolved, int_field(fields, resolved).value_or(0));
    }
  };
  limit("concurrency_given", "concurrency");
  limit("max_failures_given", "max_failures");
  b.add("halted", fields.field("halted").value_or("") == "1");
  b.add("cancel_requested", fields.field("cancel_requested").value_or("") == "1");
  b.add("total", int_field(fields, "total").value_or(0));
  proto::JsonBuilder counts;
  std::int64_t delivery_failures = 0, execution_failures = 0;
  for (const char* state : kTaskStates) {
    const auto n = int_field(fields, (std::string("n_") + state).c_str()).value_or(0);
    counts.add(state, n);
    if (std::string(state) == "expired") delivery_failures += n;
    if (std::string(state) == "failed" || std::string(state) == "timed_out") execution_failures += n;
  }
  b.add_node("counts", counts.release());
  b.add("delivery_failures", delivery_failures).add("execution_failures", execution_failures);
  return b.release();
}

std::map<std::string, std::string> Jobs::resolve_targets(const Principal& principal, const JobRequest& req) {
  // Within the caller's tenant only: listed agents, plus the agents that pass
  // every filter given (labels, regions, facts; all = none). Read only what
  // can match: the listed agents, plus those carrying the wanted labels (by
  // the label index); the whole tenant only for the other filters.
  IdRecords agents;
  if (!req.has_filter) {
    agents = agents_.load_listed(principal.tenant, req.target_agents);
  } else if (!req.target_all && !req.target_labels.empty()) {
    std::vector<std::string> ids = agents_.ids_with_labels(principal.tenant, req.target_labels);
    ids.insert(ids.end(), req.target_agents.begin(), req.target_agents.end());
    std::sort(ids.begin(), ids.end());
    ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    agents = agents_.load_listed(principal.tenant, ids);
  } else {
    agents = agents_.load_all(principal.tenant);
  }
  std::map<std::string, const Record*> by_id;
  for (const auto& [id, fields] : agents) by_id[id] = &fields;
  std::map<std::string, std::string> chosen;  // agent id → shard
  for (const auto& id : req.target_agents) {
    const auto it = by_id.find(id);
    if (it == by_id.end()) throw ApiError(400, "unknown_agent", "no agent " + id + " in this tenant");
    chosen.emplace(id, it->second->field("shard").value_or(""));
  }
  if (!req.has_filter) return chosen;
  for (const auto& [id, fields] : agents) {
    const std::string region = fields.field("region").value_or("");
    const bool region_ok = req.target_regions.empty() || std::find(req.target_regions.begin(), req.target_regions.end(),
                                                                   region) != req.target_regions.end();
    proto::StringMap facts{{"os", fields.field("os").value_or("")}, {"arch", fields.field("arch").value_or("")}};
    if (region_ok && labels_match(req.target_labels, agent_labels(fields)) && labels_match(req.target_facts, facts)) {
      chosen.emplace(id, fields.field("shard").value_or(""));
    }
  }
  return chosen;
}

SubmittedJob Jobs::submit(const Principal& principal, const std::string& body, bool dry_run) {
  require_role(principal, Role::operator_);
  const JobRequest req = parse_job_request(body);
  if (req.as_root && principal.role != Role::admin) {
    throw ApiError(403, "forbidden", "as_root needs the admin role");
  }
  for (const auto& region : req.target_regions) {
    if (config_.region(region) == nullptr) throw ApiError(400, "invalid_field", "targets.regions: no region " + region);
  }
  const std::map<std::string, std::string> chosen = resolve_targets(principal, req);
  if (chosen.empty()) throw ApiError(400, "no_targets", "the targets match no agent");
  SubmittedJob result;
  for (const auto& [id, shard] : chosen) result.agents.push_back(id);
  if (dry_run) return result;
  count_against_quota(principal);
  result.id = proto::new_uuid();
  write_job(principal, req, result.id, chosen);
  return result;
}

void Jobs::count_against_quota(const Principal& principal) {
  const long limit = principal.quotas.jobs_per_minute;
  if (limit <= 0) return;
  const std::int64_t now = unix_seconds();
  if (store_.count_tenant_job(principal.tenant, now / 60, limit) < 0) {
    throw ApiError(429, "quota_exceeded",
                   "tenant " + principal.tenant + " may submit " + std::to_string(limit) + " jobs a minute",
                   static_cast<int>(60 - now % 60));
  }
}

void Jobs::write_job(const Principal& principal, const JobRequest& req, const std::string& job_id,
                     const std::map<std::string, std::string>& chosen) {
  metrics::registry().counter("muster_jobs_created_total", "Jobs submitted and written").add();
  const double created = unix_time();
  const std::string now = format_time(created);
  // One signature for the whole job: the statement binds the command and a
  // Merkle root over (agent, task) pairs; each task keeps its proof.
  std::vector<std::string> task_ids, leaves;
  for (const auto& [agent_id, shard] : chosen) {
    task_ids.push_back(proto::new_uuid());
    leaves.push_back(proto::task_leaf(agent_id, task_ids.back()));
  }
  const proto::MerkleTree tree(leaves);
  proto::JobStatement statement;
  statement.job_id = job_id;
  statement.command = req.command;
  statement.argv = req.argv;
  statement.timeout_s = req.timeout_s;
  statement.output_quota = req.output_quota;
  statement.as_root = req.as_root;
  // Valid while the job can still be delivered and started.
  statement.not_after = created + static_cast<double>(req.deadline_s) + 300;
  statement.merkle_root = tree.root_hex();
  const std::string statement_text = proto::encode(statement);
  auto signature = keys_.signer->sign_base64(statement_text);
  if (!signature) throw std::runtime_error(signature.error().message);
  NewJob job;
  job.id = job_id;
  job.tenant = principal.tenant;
  job.created_at = created;
  job.watch_at = created + kJobWatchStallSeconds;
  job.record.fields = {
      {"tenant", principal.tenant},
      {"created_by", principal.token_id},
      {"command", req.command.value_or("")},
      {"argv", req.command ? "" : proto::dump(proto::JsonBuilder().add("a", req.argv).release()->child)},
      {"timeout_s", std::to_string(req.timeout_s)},
      {"output_quota", std::to_string(req.output_quota)},
      {"deadline", format_time(created + static_cast<double>(req.deadline_s))},
      {"concurrency", std::to_string(resolve_limit(req.concurrency, chosen.size()))},
      {"max_failures", std::to_string(resolve_limit(req.max_failures, chosen.size()))},
      {"concurrency_given", req.concurrency},
      {"max_failures_given", req.max_failures},
      {"retention_s", std::to_string(config_.job_retention_s)},
      {"as_root", req.as_root ? "1" : "0"},
      {"statement", statement_text},
      {"signature", *signature},
      {"key_id", keys_.signer->key_id()},
      {"state", "running"},
      {"created_at", format_time(created)},
      {"total", std::to_string(chosen.size())},
      {"remaining", std::to_string(chosen.size())},
      {"n_pending", std::to_string(chosen.size())}};
  std::size_t index = 0;
  for (const auto& [agent_id, shard] : chosen) {
    job.tasks.push_back({agent_id, task_ids[index], shard, tree.proof(index)});
    ++index;
  }
  store_.write_job(job);
}

Record Jobs::load_job(const Principal& principal, const std::string& job_id) {
  require_role(principal, Role::viewer);
  if (!proto::is_uuid(job_id)) throw ApiError(404, "not_found", "no job " + job_id);
  Record fields = store_.job(job_id);
  if (fields.empty() || fields.field("tenant") != principal.tenant) {
    throw ApiError(404, "not_found", "no job " + job_id);
  }
  return fields;
}

std::string Jobs::get_json(const Principal& principal, const std::string& job_id) {
  return proto::dump(job_json(job_id, load_job(principal, job_id)).get());
}

std::string Jobs::list_json(const Principal& principal, const Page& page) {
  require_role(principal, Role::viewer);
  // Newest first; the cursor is the created_at of the last job of the page before.
  double created_before = 0;
  if (!page.cursor.empty() && (page.cursor.size() > 32 || !Poco::NumberParser::tryParseFloat(page.cursor, created_before) ||
                               created_before < 0)) {
    throw ApiError(400, "invalid_field", "cursor must be the next_cursor of a previous page");
  }
  const auto page_of_jobs =
      store_.tenant_jobs(principal.tenant, page.cursor.empty() ? std::nullopt : std::optional(page.cursor), page.limit);
  proto::JsonPtr list(cJSON_CreateArray());
  for (const auto& [id, fields] : page_of_jobs.jobs) cJSON_AddItemToArray(list.get(), job_json(id, fields).release());
  proto::JsonBuilder b;
  b.add_node("jobs", std::move(list));
  if (page_of_jobs.scanned == page.limit) {
    b.add("next_cursor", page_of_jobs.last_created_at);
  } else {
    b.add_null("next_cursor");
  }
  return b.dump();
}

std::string Jobs::tasks_json(const Principal& principal, const std::string& job_id, const Page& page) {
  load_job(principal, job_id);
  // The cursor is a task offset: anything else was not a next_cursor.
  Poco::UInt64 offset = 0;
  if (!page.cursor.empty() && (!Poco::NumberParser::tryParseUnsigned64(page.cursor, offset) || offset > kMaxTaskOffset)) {
    throw ApiError(400, "invalid_field", "cursor must be the next_cursor of a previous page");
  }
  const IdRecords tasks = store_.job_tasks(job_id, offset, page.limit);
  proto::JsonPtr list(cJSON_CreateArray());
  for (const auto& task : tasks) {
    // Named, not bound: a lambda may not capture a structured binding (C++17).
    const std::string& agent_id = task.first;
    const Record& t = task.second;
    auto opt = [&](const char* name) {
      auto v = t.field(name);
      return v && !v->empty() ? v : std::nullopt;
    };
    proto::JsonBuilder b;
    b.add("agent_id", agent_id)
        .add("task_id", t.field("task_id").value_or(""))
        .add("state", t.field("state").value_or("pending"))
        .add("exit_code", int_field(t, "exit_code"))
        .add("signal", int_field(t, "signal"))
        .add("stdout", t.field("stdout").value_or(""))
        .add("stderr", t.field("stderr").value_or(""))
        .add("truncated", int_field(t, "stdout_dropped").value_or(0) + int_field(t, "stderr_dropped").value_or(0) > 0)
        .add("stdout_dropped", int_field(t, "stdout_dropped").value_or(0))
        .add("stderr_dropped", int_field(t, "stderr_dropped").value_or(0));
    add_time(b, "dispatched_at", t);
    add_time(b, "started_at", t);
    add_time(b, "finished_at", t);
    b.add("duration_ms", int_field(t, "duration_ms")).add("error", opt("error"));
    cJSON_AddItemToArray(list.get(), b.release().release());
  }
  proto::JsonBuilder out;
  out.add_node("tasks", std::move(list));
  if (tasks.size() == page.limit) {
    out.add("next_cursor", std::to_string(offset + page.limit));
  } else {
    out.add_null("next_cursor");
  }
  return out.dump();
}

std::string Jobs::cancel(const Principal& principal, const std::string& job_id) {
  require_role(principal, Role::operator_);
  const Record job = load_job(principal, job_id);
  if (job.field("state").value_or("") != "running") {
    throw ApiError(409, "conflict", "job " + job_id + " already finished as " + job.field("state").value_or(""));
  }
  store_.cancel_job(job_id);
  return get_json(principal, job_id);
}

}  // namespace muster::hub
