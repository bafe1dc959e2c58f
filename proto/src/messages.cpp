#include "muster/proto/messages.hpp"

#include "muster/proto/signing.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::proto {
namespace {

constexpr std::int64_t kMaxCount = std::int64_t{1} << 52;  // exact in a JSON double

void require_uuid(FieldReader& r, const char* key, const std::string& value) {
  if (r.ok() && !is_uuid(value)) r.fail(ErrorCode::invalid_field, std::string(key) + " must be a UUID");
}

template <class Message, class Decoder>
Result<Message> decode_text(std::string_view text, Decoder decoder) {
  auto root = parse_object(text);
  if (!root) return root.error();
  return decoder(root->get());
}

// Error texts are built from task input (e.g. a program name); the encoder
// keeps them within what the decoder accepts, so a result is always deliverable.
std::optional<std::string> clamp_error(const std::optional<std::string>& error) {
  if (!error || error->size() <= kMaxErrorBytes) return error;
  std::size_t cut = kMaxErrorBytes - 3;
  while (cut > 0 && (static_cast<unsigned char>((*error)[cut]) & 0xC0u) == 0x80u) --cut;  // UTF-8 boundary
  return error->substr(0, cut) + "...";
}

}  // namespace

const char* to_string(TaskOutcome outcome) {
  switch (outcome) {
    case TaskOutcome::succeeded: return "succeeded";
    case TaskOutcome::failed: return "failed";
    case TaskOutcome::timed_out: return "timed_out";
    case TaskOutcome::cancelled: return "cancelled";
  }
  return "failed";
}

std::string encode(const Facts& facts) {
  return JsonBuilder()
      .add("v", kProtocolVersion)
      .add("hostname", facts.hostname)
      .add("os", facts.os)
      .add("arch", facts.arch)
      .add("kernel", facts.kernel)
      .add("agent_version", facts.agent_version)
      .add("labels", facts.labels)
      .dump();
}

Result<Facts> decode_facts(const cJSON* object) {
  Facts f;
  FieldReader r(object, "facts");
  r.only({"v", "hostname", "os", "arch", "kernel", "agent_version", "labels"})
      .version(kProtocolVersion)
      .required("hostname", f.hostname, 255)
      .required("os", f.os, 64)
      .required("arch", f.arch, 64)
      .optional_labels("labels", f.labels);
  std::optional<std::string> kernel;
  std::optional<std::string> version;
  r.optional("kernel", kernel, 255).optional("agent_version", version, 64);
  if (!r.ok()) return *r.error();
  f.kernel = kernel.value_or("");
  f.agent_version = version.value_or("");
  return f;
}

std::string encode(const Task& task) {
  JsonBuilder b;
  b.add("v", kProtocolVersion).add("task_id", task.task_id);
  if (task.auth) {
    JsonBuilder auth;
    auth.add("key", task.auth->key_id)
        .add("sig", task.auth->signature)
        .add("statement", task.auth->statement)
        .add("proof", task.auth->proof);
    return b.add_node("auth", auth.release()).dump();
  }
  b.add("job_id", task.job_id);
  if (task.command) {
    b.add("command", *task.command);
  } else {
    b.add("argv", task.argv);
  }
  b.add("timeout_s", task.timeout_s).add("output_quota", task.output_quota);
  if (task.as_root) b.add("as_root", true);
  return b.dump();
}

namespace {

// A signed task: its id and auth; the rest comes from the statement.
Result<Task> decode_signed_task(const cJSON* object, const cJSON* auth) {
  Task t;
  FieldReader r(object, "task");
  r.only({"v", "task_id", "auth"}).version(kProtocolVersion).required("task_id", t.task_id, 36);
  require_uuid(r, "task_id", t.task_id);
  if (!r.ok()) return *r.error();
  TaskAuth a;
  std::optional<std::string> proof;  // none for a job to one agent
  FieldReader ar(auth, "task.auth");
  ar.only({"key", "sig", "statement", "proof"})
      .required("key", a.key_id, 64)
      .required("sig", a.signature, 512)
      .required("statement", a.statement, kMaxCommandBytes * 5)
      .optional("proof", proof, kMaxProofSteps * kProofStepChars);
  if (!ar.ok()) return *ar.error();
  a.proof = proof.value_or("");
  auto statement = decode_statement(a.statement);
  if (!statement) return Error{statement.error().code, "task.auth." + statement.error().message};
  t.job_id = std::move(statement->job_id);
  t.command = std::move(statement->command);
  t.argv = std::move(statement->argv);
  t.timeout_s = statement->timeout_s;
  t.output_quota = statement->output_quota;
  t.as_root = statement->as_root;
  t.auth = std::move(a);
  return t;
}

}  // namespace

Result<Task> decode_task(const cJSON* object) {
  const cJSON* auth = nullptr;
  FieldReader r(object, "task");
  r.optional_object("auth", auth);
  if (!r.ok()) return *r.error();
  if (auth != nullptr) return decode_signed_task(object, auth);
  Task t;
  r.only({"v", "task_id", "job_id", "command", "argv", "timeout_s", "output_quota", "as_root"})
      .version(kProtocolVersion)
      .optional("as_root", t.as_root)
      .required("task_id", t.task_id, 36)
      .required("job_id", t.job_id, 36)
      .optional("command", t.command, kMaxCommandBytes)
      .optional("argv", t.argv, kMaxArgvItems, kMaxCommandBytes)
      .required("timeout_s", t.timeout_s, 1, kMaxTimeoutSeconds)
      .optional("output_quota", t.output_quota, kMinOutputQuota, kMaxOutputQuota);
  require_uuid(r, "task_id", t.task_id);
  require_uuid(r, "job_id", t.job_id);
  if (r.ok() && t.command.has_value() == r.has("argv")) {
    r.fail(ErrorCode::invalid_field, "task needs exactly one of command and argv");
  }
  if (r.ok() && t.command && t.command->empty()) r.fail(ErrorCode::invalid_field, "task.command is empty");
  if (r.ok() && !t.command && t.argv.empty()) r.fail(ErrorCode::invalid_field, "task.argv is empty");
  if (!r.ok()) return *r.error();
  return t;
}

std::string encode(const OutputChunk& chunk) {
  return JsonBuilder()
      .add("v", kProtocolVersion)
      .add("task_id", chunk.task_id)
      .add("job_id", chunk.job_id)
      .add("stream", chunk.stream == Stream::stdout_stream ? "stdout" : "stderr")
      .add("seq", chunk.seq)
      .add("data", chunk.data)
      .dump();
}

Result<OutputChunk> decode_output_chunk(const cJSON* object) {
  OutputChunk c;
  std::string stream;
  FieldReader r(object, "output");
  r.only({"v", "task_id", "job_id", "stream", "seq", "data"})
      .version(kProtocolVersion)
      .required("task_id", c.task_id, 36)
      .required("job_id", c.job_id, 36)
      .required("stream", stream, 16)
      .required("seq", c.seq, 0, kMaxCount)
      .required("data", c.data, kMaxOutputChunkBytes * 4);
  require_uuid(r, "task_id", c.task_id);
  require_uuid(r, "job_id", c.job_id);
  if (r.ok()) {
    if (stream == "stdout") {
      c.stream = Stream::stdout_stream;
    } else if (stream == "stderr") {
      c.stream = Stream::stderr_stream;
    } else {
      r.fail(ErrorCode::invalid_field, "output.stream must be \"stdout\" or \"stderr\"");
    }
  }
  if (!r.ok()) return *r.error();
  return c;
}

std::string encode(const TaskResult& result) {
  // Results are most of what agents send: a field that is null or zero is
  // left out (the decoder reads it as such), and every quote the XMPP server
  // escapes on the way counts.
  JsonBuilder b;
  b.add("v", kProtocolVersion)
      .add("task_id", result.task_id)
      .add("job_id", result.job_id)
      .add("state", to_string(result.state));
  if (result.exit_code) b.add("exit_code", *result.exit_code);
  if (result.signal) b.add("signal", *result.signal);
  if (const auto error = clamp_error(result.error)) b.add("error", *error);
  b.add("stdout", result.stdout_text).add("stderr", result.stderr_text);
  if (result.stdout_dropped != 0) b.add("stdout_dropped", result.stdout_dropped);
  if (result.stderr_dropped != 0) b.add("stderr_dropped", result.stderr_dropped);
  return b.add("started_at", result.started_at)
      .add("finished_at", result.finished_at)
      .add("duration_ms", result.duration_ms)
      .dump();
}

Result<TaskResult> decode_task_result(const cJSON* object) {
  TaskResult t;
  std::string state;
  FieldReader r(object, "result");
  const auto max_text = static_cast<std::size_t>(kMaxOutputQuota) * 4;  // U+FFFD can triple bytes
  r.only({"v", "task_id", "job_id", "state", "exit_code", "signal", "error", "stdout", "stderr",
          "stdout_dropped", "stderr_dropped", "started_at", "finished_at", "duration_ms"})
      .version(kProtocolVersion)
      .required("task_id", t.task_id, 36)
      .required("job_id", t.job_id, 36)
      .required("state", state, 16)
      .optional("exit_code", t.exit_code, -2147483648LL, 2147483647LL)
      .optional("signal", t.signal, 1, 128)
      .optional("error", t.error, kMaxErrorBytes)
      .required("stdout", t.stdout_text, max_text)
      .required("stderr", t.stderr_text, max_text)
      .optional("stdout_dropped", t.stdout_dropped, 0, kMaxCount)
      .optional("stderr_dropped", t.stderr_dropped, 0, kMaxCount)
      .required("started_at", t.started_at)
      .required("finished_at", t.finished_at)
      .required("duration_ms", t.duration_ms, 0, kMaxCount);
  require_uuid(r, "task_id", t.task_id);
  require_uuid(r, "job_id", t.job_id);
  if (r.ok()) {
    if (state == "succeeded") {
      t.state = TaskOutcome::succeeded;
    } else if (state == "failed") {
      t.state = TaskOutcome::failed;
    } else if (state == "timed_out") {
      t.state = TaskOutcome::timed_out;
    } else if (state == "cancelled") {
      t.state = TaskOutcome::cancelled;
    } else {
      r.fail(ErrorCode::invalid_field, "result.state must be succeeded, failed, timed_out or cancelled");
    }
  }
  if (!r.ok()) return *r.error();
  return t;
}

std::string encode(const Enrollment& e) {
  return JsonBuilder()
      .add("uuid", e.uuid)
      .add("jid", e.jid)
      .add("password", e.password)
      .add("xmpp_host", e.xmpp_host)
      .add("xmpp_port", e.xmpp_port)
      .add("xmpp_domain", e.xmpp_domain)
      .add("ca_pem", e.ca_pem)
      .add("master_jid", e.master_jid)
      .add("signing_keys", e.signing_keys)
      .dump();
}

Result<Enrollment> decode_enrollment(const cJSON* object) {
  Enrollment e;
  FieldReader r(object, "enrollment");
  r.required("uuid", e.uuid, 36)
      .required("jid", e.jid, 1024)
      .required("password", e.password, 1024)
      .required("xmpp_host", e.xmpp_host, 255)
      .required("xmpp_port", e.xmpp_port, 1, 65535)
      .required("xmpp_domain", e.xmpp_domain, 255)
      .required("ca_pem", e.ca_pem, 256 << 10)
      .required("master_jid", e.master_jid, 1024)
      .optional("signing_keys", e.signing_keys, 8, 4096);
  require_uuid(r, "uuid", e.uuid);
  if (r.ok() && e.signing_keys.empty()) {
    r.fail(ErrorCode::missing_field, "enrollment.signing_keys is required: the agent pins the api's keys");
  }
  if (!r.ok()) return *r.error();
  return e;
}

std::string encode(const CancelRequest& cancel) {
  return JsonBuilder().add("v", kProtocolVersion).add("task_id", cancel.task_id).add("job_id", cancel.job_id).dump();
}

Result<CancelRequest> decode_cancel(const cJSON* object) {
  CancelRequest c;
  FieldReader r(object, "cancel");
  r.only({"v", "task_id", "job_id"})
      .version(kProtocolVersion)
      .required("task_id", c.task_id, 36)
      .required("job_id", c.job_id, 36);
  require_uuid(r, "task_id", c.task_id);
  require_uuid(r, "job_id", c.job_id);
  if (!r.ok()) return *r.error();
  return c;
}

Result<CancelRequest> decode_cancel(std::string_view text) {
  return decode_text<CancelRequest>(text, [](const cJSON* o) { return decode_cancel(o); });
}

Result<Facts> decode_facts(std::string_view text) { return decode_text<Facts>(text, [](const cJSON* o) { return decode_facts(o); }); }
Result<Task> decode_task(std::string_view text) { return decode_text<Task>(text, [](const cJSON* o) { return decode_task(o); }); }
Result<OutputChunk> decode_output_chunk(std::string_view text) {
  return decode_text<OutputChunk>(text, [](const cJSON* o) { return decode_output_chunk(o); });
}
Result<TaskResult> decode_task_result(std::string_view text) {
  return decode_text<TaskResult>(text, [](const cJSON* o) { return decode_task_result(o); });
}
Result<Enrollment> decode_enrollment(std::string_view text) {
  return decode_text<Enrollment>(text, [](const cJSON* o) { return decode_enrollment(o); });
}

}  // namespace muster::proto
