#include "core/jobs.hpp"

#include <cstdio>
#include <set>

#include "core/errors.hpp"
#include "core/tasks.hpp"
#include "muster/proto/uuid.hpp"
#include "store/keys.hpp"

namespace muster::hub {
namespace {

constexpr std::int64_t kDefaultTimeout = 300;
constexpr std::size_t kMaxListedJobs = 100;

ApiError bad_request(const proto::Error& e) { return ApiError(400, proto::to_string(e.code), e.message); }

void require_role(const Principal& p, Role needed) {
  if (p.kind != TokenKind::api) throw ApiError(403, "forbidden", "an enrollment token cannot use this endpoint");
  if (p.role < needed) {
    throw ApiError(403, "forbidden", std::string("this needs the ") + to_string(needed) + " role; the token has " +
                                         to_string(p.role));
  }
}

std::optional<std::int64_t> int_field(const Reply& fields, const char* name) {
  const auto text = fields.field(name);
  if (!text || text->empty()) return std::nullopt;
  try {
    return std::stoll(*text);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

void add_time(proto::JsonBuilder& b, const char* key, const Reply& fields) {
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

std::string format_time(double t) {
  char text[32];
  std::snprintf(text, sizeof text, "%.6f", t);
  return text;
}

struct JobRequest {
  std::optional<std::string> command;
  std::vector<std::string> argv;
  std::vector<std::string> target_agents;
  proto::StringMap target_labels;
  bool target_all = false;
  std::int64_t timeout_s = kDefaultTimeout;
  std::int64_t output_quota = proto::kDefaultOutputQuota;
};

JobRequest parse_job_request(const std::string& body) {
  auto root = proto::parse_object(body);
  if (!root) throw bad_request(root.error());
  JobRequest req;
  const cJSON* targets = nullptr;
  proto::FieldReader r(root->get(), "");
  r.only({"command", "argv", "targets", "timeout_s", "output_quota"})
      .optional("command", req.command, proto::kMaxCommandBytes)
      .optional("argv", req.argv, proto::kMaxArgvItems, proto::kMaxCommandBytes)
      .optional("timeout_s", req.timeout_s, 1, proto::kMaxTimeoutSeconds)
      .optional("output_quota", req.output_quota, proto::kMinOutputQuota, proto::kMaxOutputQuota)
      .optional_object("targets", targets);
  if (r.ok() && req.command.has_value() == r.has("argv")) {
    r.fail(proto::ErrorCode::missing_field, "give exactly one of command (a shell command) and argv (an array)");
  }
  if (r.ok() && req.command && req.command->empty()) r.fail(proto::ErrorCode::invalid_field, "command is empty");
  if (r.ok() && !req.command && req.argv.empty()) r.fail(proto::ErrorCode::invalid_field, "argv is empty");
  if (r.ok() && targets == nullptr) r.fail(proto::ErrorCode::missing_field, "targets is required");
  if (!r.ok()) throw bad_request(*r.error());

  proto::FieldReader t(targets, "targets");
  t.only({"agents", "labels", "all"})
      .optional("agents", req.target_agents, 100000, 36)
      .optional_labels("labels", req.target_labels)
      .optional("all", req.target_all);
  for (const auto& id : req.target_agents) {
    if (t.ok() && !proto::is_uuid(id)) t.fail(proto::ErrorCode::invalid_field, "targets.agents: \"" + id + "\" is not an agent id");
  }
  if (t.ok() && req.target_agents.empty() && !t.has("labels") && !req.target_all) {
    t.fail(proto::ErrorCode::missing_field, "targets needs agents, labels or all");
  }
  if (!t.ok()) throw bad_request(*t.error());
  return req;
}

bool labels_match(const proto::StringMap& wanted, const proto::StringMap& have) {
  for (const auto& [k, v] : wanted) {
    auto it = have.find(k);
    if (it == have.end() || it->second != v) return false;
  }
  return true;
}

}  // namespace

proto::JsonPtr job_json(const std::string& job_id, const Reply& fields) {
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
  b.add("total", int_field(fields, "total").value_or(0));
  proto::JsonBuilder counts;
  for (const char* state : kTaskStates) counts.add(state, int_field(fields, (std::string("n_") + state).c_str()).value_or(0));
  b.add_node("counts", counts.release());
  return b.release();
}

SubmittedJob Jobs::submit(const Principal& principal, const std::string& body) {
  require_role(principal, Role::operator_);
  const JobRequest req = parse_job_request(body);

  // Resolve targets within the caller's tenant only.
  const auto agents = agents_.load_all(principal.tenant);
  std::map<std::string, const Reply*> by_id;
  for (const auto& [id, fields] : agents) by_id[id] = &fields;
  std::set<std::string> chosen;
  for (const auto& id : req.target_agents) {
    if (by_id.count(id) == 0) throw ApiError(400, "unknown_agent", "no agent " + id + " in this tenant");
    chosen.insert(id);
  }
  for (const auto& [id, fields] : agents) {
    if (req.target_all || (!req.target_labels.empty() && labels_match(req.target_labels, agent_labels(fields)))) {
      chosen.insert(id);
    }
  }
  if (chosen.empty()) throw ApiError(400, "no_targets", "the targets match no agent");

  const std::string job_id = proto::new_uuid();
  const std::string now = format_time(unix_time());
  std::vector<Command> writes;
  writes.push_back({"HSET", keys::job(job_id), "tenant", principal.tenant, "created_by", principal.token_id,
                    "command", req.command.value_or(""), "argv",
                    req.command ? "" : proto::dump(proto::JsonBuilder().add("a", req.argv).release()->child),
                    "timeout_s", std::to_string(req.timeout_s), "output_quota", std::to_string(req.output_quota),
                    "state", "running", "created_at", now, "total", std::to_string(chosen.size()), "remaining",
                    std::to_string(chosen.size()), "n_pending", std::to_string(chosen.size())});
  Command task_list{"RPUSH", keys::job_tasks(job_id)};
  for (const auto& agent_id : chosen) {
    task_list.push_back(agent_id);
    writes.push_back({"HSET", keys::task(job_id, agent_id), "task_id", proto::new_uuid(), "agent_id", agent_id,
                      "state", "pending", "shard", by_id[agent_id]->field("shard").value_or("")});
  }
  writes.push_back(std::move(task_list));
  writes.push_back({"ZADD", keys::tenant_jobs(principal.tenant), now, job_id});
  // Enqueue last: a master never sees a task whose records are not written.
  for (const auto& agent_id : chosen) {
    writes.push_back({"XADD", keys::dispatch_queue(by_id[agent_id]->field("shard").value_or("")), "*", "job",
                      job_id, "agent", agent_id});
  }
  for (const auto& reply : store_.pipeline(writes)) {
    if (reply.kind == Reply::Kind::error) throw StoreError("writing job " + job_id + ": " + reply.text);
  }
  return SubmittedJob{job_id, chosen.size()};
}

Reply Jobs::load_job(const Principal& principal, const std::string& job_id) {
  require_role(principal, Role::viewer);
  if (!proto::is_uuid(job_id)) throw ApiError(404, "not_found", "no job " + job_id);
  Reply fields = store_.run({"HGETALL", keys::job(job_id)});
  if (fields.elements.empty() || fields.field("tenant") != principal.tenant) {
    throw ApiError(404, "not_found", "no job " + job_id);
  }
  return fields;
}

std::string Jobs::get_json(const Principal& principal, const std::string& job_id) {
  return proto::dump(job_json(job_id, load_job(principal, job_id)).get());
}

std::string Jobs::list_json(const Principal& principal) {
  require_role(principal, Role::viewer);
  const Reply ids = store_.run({"ZREVRANGE", keys::tenant_jobs(principal.tenant), "0",
                                std::to_string(kMaxListedJobs - 1)});
  std::vector<Command> reads;
  for (const auto& id : ids.elements) reads.push_back({"HGETALL", keys::job(id.text)});
  const auto jobs = store_.pipeline(reads);
  proto::JsonPtr list(cJSON_CreateArray());
  for (std::size_t i = 0; i < jobs.size(); ++i) {
    if (!jobs[i].elements.empty()) cJSON_AddItemToArray(list.get(), job_json(ids.elements[i].text, jobs[i]).release());
  }
  return proto::JsonBuilder().add_node("jobs", std::move(list)).dump();
}

std::string Jobs::tasks_json(const Principal& principal, const std::string& job_id) {
  load_job(principal, job_id);
  const Reply agent_ids = store_.run({"LRANGE", keys::job_tasks(job_id), "0", "-1"});
  std::vector<Command> reads;
  for (const auto& id : agent_ids.elements) reads.push_back({"HGETALL", keys::task(job_id, id.text)});
  const auto tasks = store_.pipeline(reads);
  proto::JsonPtr list(cJSON_CreateArray());
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const Reply& t = tasks[i];
    auto opt = [&](const char* name) {
      auto v = t.field(name);
      return v && !v->empty() ? v : std::nullopt;
    };
    proto::JsonBuilder b;
    b.add("agent_id", agent_ids.elements[i].text)
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
  return proto::JsonBuilder().add_node("tasks", std::move(list)).dump();
}

std::string Jobs::cancel(const Principal& principal, const std::string& job_id) {
  require_role(principal, Role::operator_);
  const Reply job = load_job(principal, job_id);
  if (job.field("state").value_or("") != "running") {
    throw ApiError(409, "conflict", "job " + job_id + " already finished as " + job.field("state").value_or(""));
  }
  store_.run({"HSET", keys::job(job_id), "cancel_requested", "1"});
  const Reply agent_ids = store_.run({"LRANGE", keys::job_tasks(job_id), "0", "-1"});
  for (const auto& id : agent_ids.elements) {
    transition_task(store_, job_id, id.text, "cancelled", {"pending"}, {"error", "cancelled before dispatch"});
  }
  return get_json(principal, job_id);
}

}  // namespace muster::hub
