#include "muster/proto/messages.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "muster/proto/text.hpp"

using namespace muster::proto;

namespace {

constexpr const char* kTaskId = "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b";
constexpr const char* kJobId = "1b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b";

template <class T>
::testing::AssertionResult FailsWith(const Result<T>& r, ErrorCode code, std::string_view needle) {
  if (r.ok()) return ::testing::AssertionFailure() << "decoded successfully, expected " << to_string(code);
  if (r.error().code != code) {
    return ::testing::AssertionFailure() << "code " << to_string(r.error().code) << ", expected "
                                         << to_string(code) << " (message: " << r.error().message << ")";
  }
  if (r.error().message.find(needle) == std::string::npos) {
    return ::testing::AssertionFailure() << "message \"" << r.error().message << "\" does not name \"" << needle
                                         << "\"";
  }
  return ::testing::AssertionSuccess();
}

// A JSON object kept as raw member texts, so tests can splice in values that
// a builder cannot produce (1e400, duplicate keys, invalid UTF-8).
class Doc {
 public:
  Doc(std::initializer_list<std::pair<std::string, std::string>> fields) : fields_(fields) {}

  Doc set(const std::string& key, const std::string& raw) const {
    Doc d = *this;
    for (auto& [k, v] : d.fields_) {
      if (k == key) {
        v = raw;
        return d;
      }
    }
    d.fields_.emplace_back(key, raw);
    return d;
  }
  Doc add(const std::string& key, const std::string& raw) const {  // even if present
    Doc d = *this;
    d.fields_.emplace_back(key, raw);
    return d;
  }
  Doc erase(const std::string& key) const {
    Doc d = *this;
    std::vector<std::pair<std::string, std::string>> kept;
    for (auto& f : d.fields_) {
      if (f.first != key) kept.push_back(f);
    }
    d.fields_ = kept;
    return d;
  }
  std::string text() const {
    std::string out = "{";
    for (const auto& [k, v] : fields_) {
      if (out.size() > 1) out += ',';
      out += '"' + k + "\":" + v;
    }
    return out + "}";
  }
  std::vector<std::string> keys() const {
    std::vector<std::string> out;
    for (const auto& f : fields_) out.push_back(f.first);
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

std::string Quoted(const std::string& s) { return '"' + s + '"'; }

const Doc kFactsDoc = {{"v", "1"},
                       {"hostname", "\"web-1.example.com\""},
                       {"os", "\"linux\""},
                       {"arch", "\"x86_64\""},
                       {"kernel", "\"6.1.0-13-amd64\""},
                       {"agent_version", "\"0.1.0\""},
                       {"labels", R"({"env":"prod","rack":"r12"})"}};

const Doc kTaskDoc = {{"v", "1"},          {"task_id", Quoted(kTaskId)}, {"job_id", Quoted(kJobId)},
                      {"command", "\"uname -a\""}, {"timeout_s", "60"},  {"output_quota", "65536"}};

const Doc kArgvTaskDoc = kTaskDoc.erase("command").set("argv", R"(["/usr/bin/env","ls","-l"])");

const Doc kOutputDoc = {{"v", "1"},           {"task_id", Quoted(kTaskId)}, {"job_id", Quoted(kJobId)},
                        {"stream", "\"stdout\""}, {"seq", "3"},           {"data", "\"hello\\n\""}};

const Doc kResultDoc = {{"v", "1"},
                        {"task_id", Quoted(kTaskId)},
                        {"job_id", Quoted(kJobId)},
                        {"state", "\"succeeded\""},
                        {"exit_code", "0"},
                        {"signal", "null"},
                        {"error", "null"},
                        {"stdout", "\"out\""},
                        {"stderr", "\"\""},
                        {"stdout_dropped", "0"},
                        {"stderr_dropped", "0"},
                        {"started_at", "1764200000.1"},
                        {"finished_at", "1764200000.2"},
                        {"duration_ms", "100"}};

const Doc kEnrollmentDoc = {{"uuid", Quoted(kTaskId)},
                            {"jid", "\"0b8c3c1e@xmpp.example.com\""},
                            {"password", "\"s3cret\""},
                            {"xmpp_host", "\"xmpp.example.com\""},
                            {"xmpp_port", "5222"},
                            {"xmpp_domain", "\"example.com\""},
                            {"ca_pem", "\"-----BEGIN CERTIFICATE-----\\nMIIB\\n-----END CERTIFICATE-----\\n\""},
                            {"master_jid", "\"master@example.com/muster\""},
                            {"signing_keys", "[\"-----BEGIN PUBLIC KEY-----\\nMFkw\\n-----END PUBLIC KEY-----\\n\"]"}};

// One decoder per message, as text → ok/error.
struct Codec {
  const char* name;
  const char* context;
  Doc doc;
  std::function<Result<Ok>(std::string_view)> decode;
  bool versioned;
  bool strict;  // refuses unknown fields
};

template <class T>
Result<Ok> Drop(const Result<T>& r) {
  if (!r) return r.error();
  return Ok{};
}

std::vector<Codec> Codecs() {
  return {
      {"facts", "facts", kFactsDoc, [](std::string_view t) { return Drop(decode_facts(t)); }, true, true},
      {"task", "task", kTaskDoc, [](std::string_view t) { return Drop(decode_task(t)); }, true, true},
      {"argv task", "task", kArgvTaskDoc, [](std::string_view t) { return Drop(decode_task(t)); }, true, true},
      {"output", "output", kOutputDoc, [](std::string_view t) { return Drop(decode_output_chunk(t)); }, true, true},
      {"result", "result", kResultDoc, [](std::string_view t) { return Drop(decode_task_result(t)); }, true, true},
      {"enrollment", "enrollment", kEnrollmentDoc, [](std::string_view t) { return Drop(decode_enrollment(t)); },
       false, false},
  };
}

Facts SampleFacts() {
  Facts f;
  f.hostname = "web-1.example.com";
  f.os = "linux";
  f.arch = "aarch64";
  f.kernel = "6.1.0-13-arm64";
  f.agent_version = "0.1.0";
  f.labels = {{"env", "prod"}, {"rack", "r12"}, {"empty", ""}};
  return f;
}

Task SampleTask() {
  Task t;
  t.task_id = kTaskId;
  t.job_id = kJobId;
  t.timeout_s = 60;
  t.output_quota = 1 << 20;
  return t;
}

TaskResult SampleResult() {
  TaskResult r;
  r.task_id = kTaskId;
  r.job_id = kJobId;
  r.stdout_text = "line 1\nline 2\n";
  r.stderr_text = "warn\xEF\xBF\xBD\n";
  r.stdout_dropped = 12345;
  r.stderr_dropped = 0;
  r.started_at = 1764200000.125;
  r.finished_at = 1764200001.5;
  r.duration_ms = 1375;
  return r;
}

void ExpectSame(const TaskResult& a, const TaskResult& b) {
  EXPECT_EQ(a.task_id, b.task_id);
  EXPECT_EQ(a.job_id, b.job_id);
  EXPECT_EQ(a.state, b.state);
  EXPECT_EQ(a.exit_code, b.exit_code);
  EXPECT_EQ(a.signal, b.signal);
  EXPECT_EQ(a.error, b.error);
  EXPECT_EQ(a.stdout_text, b.stdout_text);
  EXPECT_EQ(a.stderr_text, b.stderr_text);
  EXPECT_EQ(a.stdout_dropped, b.stdout_dropped);
  EXPECT_EQ(a.stderr_dropped, b.stderr_dropped);
  EXPECT_EQ(a.started_at, b.started_at);
  EXPECT_EQ(a.finished_at, b.finished_at);
  EXPECT_EQ(a.duration_ms, b.duration_ms);
}

}  // namespace

// --------------------------------------------------------------- constants

TEST(Protocol, Constants) {
  EXPECT_EQ(kProtocolVersion, 1);
  EXPECT_STREQ(kNamespace, "urn:muster:1");
  EXPECT_EQ(kMaxTimeoutSeconds, 86400);
  EXPECT_STREQ(to_string(TaskOutcome::succeeded), "succeeded");
  EXPECT_STREQ(to_string(TaskOutcome::failed), "failed");
  EXPECT_STREQ(to_string(TaskOutcome::timed_out), "timed_out");
  EXPECT_STREQ(to_string(TaskOutcome::cancelled), "cancelled");
}

// --------------------------------------------------------------- round trips

TEST(TaskCodec, RoundTrip) {
  Task t;
  t.task_id = "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b";
  t.job_id = "1b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b";
  t.command = "uname -a";
  t.timeout_s = 60;
  auto back = decode_task(encode(t));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back->command, "uname -a");
  EXPECT_EQ(back->timeout_s, 60);
}

TEST(FactsCodec, RoundTrip) {
  const Facts f = SampleFacts();
  const std::string text = encode(f);
  EXPECT_NE(text.find("\"v\":1"), std::string::npos) << text;
  auto back = decode_facts(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->hostname, f.hostname);
  EXPECT_EQ(back->os, f.os);
  EXPECT_EQ(back->arch, f.arch);
  EXPECT_EQ(back->kernel, f.kernel);
  EXPECT_EQ(back->agent_version, f.agent_version);
  EXPECT_EQ(back->labels, f.labels);
}

TEST(FactsCodec, RoundTripMinimal) {
  Facts f;
  f.hostname = "h";
  f.os = "linux";
  f.arch = "x86_64";
  auto back = decode_facts(encode(f));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->hostname, "h");
  EXPECT_EQ(back->kernel, "");
  EXPECT_EQ(back->agent_version, "");
  EXPECT_TRUE(back->labels.empty());
}

TEST(FactsCodec, RoundTripAtLimits) {
  Facts f = SampleFacts();
  f.hostname = std::string(255, 'h');
  f.os = std::string(64, 'o');
  f.arch = std::string(64, 'a');
  f.kernel = std::string(255, 'k');
  f.agent_version = std::string(64, 'v');
  f.labels.clear();
  for (int i = 0; i < 64; ++i) f.labels["label-" + std::to_string(i)] = std::string(255, 'x');
  auto back = decode_facts(encode(f));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->labels, f.labels);
  EXPECT_EQ(back->hostname, f.hostname);
}

TEST(FactsCodec, OptionalFieldsMayBeAbsentOrNull) {
  for (const Doc& d : {kFactsDoc.erase("kernel").erase("agent_version").erase("labels").erase("v"),
                       kFactsDoc.set("kernel", "null").set("agent_version", "null").set("labels", "null")}) {
    SCOPED_TRACE(d.text());
    auto back = decode_facts(d.text());
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->kernel, "");
    EXPECT_EQ(back->agent_version, "");
    EXPECT_TRUE(back->labels.empty());
  }
}

TEST(TaskCodec, RoundTripCommand) {
  Task t = SampleTask();
  t.command = "for i in 1 2 3; do echo \"$i\" >&2; done | tee /tmp/x \xC3\xA9";
  t.argv = {"ignored"};  // command wins when set
  const std::string text = encode(t);
  EXPECT_EQ(text.find("argv"), std::string::npos) << text;
  auto back = decode_task(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->task_id, t.task_id);
  EXPECT_EQ(back->job_id, t.job_id);
  EXPECT_EQ(back->command, t.command);
  EXPECT_TRUE(back->argv.empty());
  EXPECT_EQ(back->timeout_s, 60);
  EXPECT_EQ(back->output_quota, 1 << 20);
}

TEST(TaskCodec, RoundTripArgv) {
  Task t = SampleTask();
  t.argv = {"/bin/echo", "two words", "", "quote\"and\\backslash", "\xF0\x9F\x98\x80", "$HOME;rm"};
  const std::string text = encode(t);
  EXPECT_EQ(text.find("command"), std::string::npos) << text;
  auto back = decode_task(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(back->command.has_value());
  EXPECT_EQ(back->argv, t.argv);
}

TEST(TaskCodec, RoundTripAtLimits) {
  Task t = SampleTask();
  t.argv.assign(kMaxArgvItems, "x");
  t.argv[0] = std::string(kMaxCommandBytes, 'a');
  t.timeout_s = kMaxTimeoutSeconds;
  t.output_quota = kMaxOutputQuota;
  auto back = decode_task(encode(t));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->argv, t.argv);
  EXPECT_EQ(back->timeout_s, kMaxTimeoutSeconds);
  EXPECT_EQ(back->output_quota, kMaxOutputQuota);

  Task small = SampleTask();
  small.command = std::string(kMaxCommandBytes, 'c');
  small.timeout_s = 1;
  small.output_quota = kMinOutputQuota;
  auto back_small = decode_task(encode(small));
  ASSERT_TRUE(back_small.ok()) << back_small.error().message;
  EXPECT_EQ(back_small->timeout_s, 1);
  EXPECT_EQ(back_small->output_quota, kMinOutputQuota);
  EXPECT_EQ(back_small->command->size(), kMaxCommandBytes);
}

TEST(TaskCodec, OutputQuotaDefaults) {
  auto back = decode_task(kTaskDoc.erase("output_quota").text());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->output_quota, kDefaultOutputQuota);
  auto null_quota = decode_task(kTaskDoc.set("output_quota", "null").text());
  ASSERT_TRUE(null_quota.ok()) << null_quota.error().message;
  EXPECT_EQ(null_quota->output_quota, kDefaultOutputQuota);
}

TEST(OutputChunkCodec, RoundTripBothStreams) {
  for (Stream stream : {Stream::stdout_stream, Stream::stderr_stream}) {
    OutputChunk c;
    c.task_id = kTaskId;
    c.job_id = kJobId;
    c.stream = stream;
    c.seq = 41;
    c.data = "tab\tnl\ncr\r \xEF\xBF\xBD unicode \xE2\x82\xAC";
    const std::string text = encode(c);
    EXPECT_NE(text.find(stream == Stream::stdout_stream ? "\"stdout\"" : "\"stderr\""), std::string::npos);
    auto back = decode_output_chunk(text);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->task_id, c.task_id);
    EXPECT_EQ(back->job_id, c.job_id);
    EXPECT_EQ(back->stream, stream);
    EXPECT_EQ(back->seq, 41);
    EXPECT_EQ(back->data, c.data);
  }
}

TEST(OutputChunkCodec, RoundTripAtLimits) {
  OutputChunk c;
  c.task_id = kTaskId;
  c.job_id = kJobId;
  c.seq = std::int64_t{1} << 52;
  c.data = std::string(kMaxOutputChunkBytes * 4, 'd');
  auto back = decode_output_chunk(encode(c));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->seq, c.seq);
  EXPECT_EQ(back->data.size(), c.data.size());
  c.seq = 0;
  c.data.clear();
  auto empty = decode_output_chunk(encode(c));
  ASSERT_TRUE(empty.ok()) << empty.error().message;
  EXPECT_EQ(empty->seq, 0);
  EXPECT_EQ(empty->data, "");
}

TEST(TaskResultCodec, RoundTripEveryState) {
  for (TaskOutcome state : {TaskOutcome::succeeded, TaskOutcome::failed, TaskOutcome::timed_out,
                            TaskOutcome::cancelled}) {
    SCOPED_TRACE(to_string(state));
    TaskResult r = SampleResult();
    r.state = state;
    const std::string text = encode(r);
    EXPECT_NE(text.find(std::string("\"state\":\"") + to_string(state) + "\""), std::string::npos) << text;
    auto back = decode_task_result(text);
    ASSERT_TRUE(back.ok()) << back.error().message;
    ExpectSame(*back, r);
  }
}

TEST(TaskResultCodec, RoundTripNullOptionals) {
  TaskResult r = SampleResult();
  r.state = TaskOutcome::failed;
  r.stdout_dropped = 0;
  const std::string text = encode(r);
  // Absent optionals and zero counts are left out, not written as null or 0.
  for (const char* key : {"\"exit_code\"", "\"signal\"", "\"error\"", "\"stdout_dropped\"", "\"stderr_dropped\""}) {
    EXPECT_EQ(text.find(key), std::string::npos) << key << " in " << text;
  }
  auto back = decode_task_result(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(back->exit_code.has_value());
  EXPECT_FALSE(back->signal.has_value());
  EXPECT_FALSE(back->error.has_value());
  ExpectSame(*back, r);
  // Explicit nulls and zeros, as earlier agents sent them, read the same.
  auto explicit_nulls = decode_task_result(kResultDoc.set("exit_code", "null")
                                               .set("signal", "null")
                                               .set("error", "null")
                                               .set("stdout_dropped", "0")
                                               .text());
  ASSERT_TRUE(explicit_nulls.ok()) << explicit_nulls.error().message;
  EXPECT_FALSE(explicit_nulls->exit_code.has_value());
  EXPECT_EQ(explicit_nulls->stdout_dropped, 0);
}

TEST(TaskResultCodec, RoundTripSetOptionals) {
  struct Case {
    TaskOutcome state;
    std::optional<std::int64_t> exit_code;
    std::optional<std::int64_t> signal;
    std::optional<std::string> error;
  };
  const Case cases[] = {
      {TaskOutcome::succeeded, 0, std::nullopt, std::nullopt},
      {TaskOutcome::failed, 1, std::nullopt, std::nullopt},
      {TaskOutcome::failed, -1, std::nullopt, std::nullopt},
      {TaskOutcome::failed, 2147483647LL, std::nullopt, std::nullopt},
      {TaskOutcome::failed, -2147483648LL, std::nullopt, std::nullopt},
      {TaskOutcome::failed, std::nullopt, 9, std::nullopt},
      {TaskOutcome::timed_out, std::nullopt, 1, std::string("timed out after 60 s")},
      {TaskOutcome::cancelled, std::nullopt, 128, std::string("")},
      {TaskOutcome::failed, std::nullopt, std::nullopt, std::string("exec: No such file or directory")},
      {TaskOutcome::failed, 126, 15, std::string(4096, 'e')},
  };
  for (const auto& c : cases) {
    TaskResult r = SampleResult();
    r.state = c.state;
    r.exit_code = c.exit_code;
    r.signal = c.signal;
    r.error = c.error;
    auto back = decode_task_result(encode(r));
    ASSERT_TRUE(back.ok()) << back.error().message;
    ExpectSame(*back, r);
  }
}

TEST(TaskResultCodec, RoundTripLargeCounters) {
  TaskResult r = SampleResult();
  r.stdout_dropped = std::int64_t{1} << 52;
  r.stderr_dropped = (std::int64_t{1} << 52) - 1;
  r.duration_ms = std::int64_t{1} << 52;
  r.started_at = 0;
  r.finished_at = 4102444800.000001;
  auto back = decode_task_result(encode(r));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ExpectSame(*back, r);
}

TEST(TaskResultCodec, OptionalFieldsMayBeAbsent) {
  auto back = decode_task_result(kResultDoc.erase("exit_code")
                                     .erase("signal")
                                     .erase("error")
                                     .erase("stdout_dropped")
                                     .erase("stderr_dropped")
                                     .erase("v")
                                     .text());
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_FALSE(back->exit_code.has_value());
  EXPECT_EQ(back->stdout_dropped, 0);
  EXPECT_EQ(back->stderr_dropped, 0);
}

TEST(EnrollmentCodec, RoundTrip) {
  Enrollment e;
  e.uuid = kTaskId;
  e.jid = std::string(kTaskId) + "@xmpp.example.com";
  e.password = "p\"a\\s s\nw\xC3\xB6rd";
  e.xmpp_host = "xmpp.example.com";
  e.xmpp_port = 5223;
  e.xmpp_domain = "example.com";
  e.ca_pem = "-----BEGIN CERTIFICATE-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A\n-----END CERTIFICATE-----\n";
  e.master_jid = "master@example.com/muster";
  e.signing_keys = {"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"};
  auto back = decode_enrollment(encode(e));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->uuid, e.uuid);
  EXPECT_EQ(back->jid, e.jid);
  EXPECT_EQ(back->password, e.password);
  EXPECT_EQ(back->xmpp_host, e.xmpp_host);
  EXPECT_EQ(back->xmpp_port, e.xmpp_port);
  EXPECT_EQ(back->xmpp_domain, e.xmpp_domain);
  EXPECT_EQ(back->ca_pem, e.ca_pem);
  EXPECT_EQ(back->master_jid, e.master_jid);

  for (std::int64_t port : {1, 65535}) {
    e.xmpp_port = port;
    auto p = decode_enrollment(encode(e));
    ASSERT_TRUE(p.ok()) << p.error().message;
    EXPECT_EQ(p->xmpp_port, port);
  }
}

TEST(EnrollmentCodec, ToleratesExtraFields) {
  // The agent's state file is an enrollment plus its own fields (hub_url,
  // labels) and is read back with decode_enrollment, so extra fields pass.
  auto back = decode_enrollment(kEnrollmentDoc.set("hub_url", "\"https://hub\"").set("labels", "{}").text());
  ASSERT_TRUE(back.ok()) << back.error().message;
}

TEST(Decoders, FromTreeMatchesFromText) {
  auto root = parse_object(encode(SampleFacts()));
  ASSERT_TRUE(root.ok());
  auto facts = decode_facts(root->get());
  ASSERT_TRUE(facts.ok()) << facts.error().message;
  EXPECT_EQ(facts->labels, SampleFacts().labels);
}

// ----------------------------------------------------- malformed: general

TEST(Decoders, BaseDocumentsAreValid) {
  for (const auto& c : Codecs()) {
    SCOPED_TRACE(c.name);
    auto r = c.decode(c.doc.text());
    EXPECT_TRUE(r.ok()) << r.error().message;
  }
}

TEST(Decoders, NullTreeIsBadJson) {
  EXPECT_TRUE(FailsWith(decode_facts(static_cast<const cJSON*>(nullptr)), ErrorCode::bad_json, "facts"));
  EXPECT_TRUE(FailsWith(decode_task(static_cast<const cJSON*>(nullptr)), ErrorCode::bad_json, "task"));
  EXPECT_TRUE(
      FailsWith(decode_output_chunk(static_cast<const cJSON*>(nullptr)), ErrorCode::bad_json, "output"));
  EXPECT_TRUE(
      FailsWith(decode_task_result(static_cast<const cJSON*>(nullptr)), ErrorCode::bad_json, "result"));
  EXPECT_TRUE(
      FailsWith(decode_enrollment(static_cast<const cJSON*>(nullptr)), ErrorCode::bad_json, "enrollment"));
  JsonPtr array(cJSON_CreateArray());
  EXPECT_TRUE(FailsWith(decode_task(array.get()), ErrorCode::bad_json, "task is not a JSON object"));
}

TEST(Decoders, RefuseNonJsonAndNonObjects) {
  for (const auto& c : Codecs()) {
    SCOPED_TRACE(c.name);
    for (const char* text : {"", "not json", "{", "{\"v\":1,}", "[]", "[{}]", "\"{}\"", "1", "null", "true"}) {
      SCOPED_TRACE(text);
      EXPECT_TRUE(FailsWith(c.decode(text), ErrorCode::bad_json, ""));
    }
  }
}

TEST(Decoders, RefuseTrailingGarbage) {
  for (const auto& c : Codecs()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(c.decode(c.doc.text() + " \n").ok());
    EXPECT_TRUE(FailsWith(c.decode(c.doc.text() + "x"), ErrorCode::bad_json, "trailing"));
    EXPECT_TRUE(FailsWith(c.decode(c.doc.text() + c.doc.text()), ErrorCode::bad_json, "trailing"));
  }
}

TEST(Decoders, RefuseOversizeText) {
  for (const auto& c : Codecs()) {
    SCOPED_TRACE(c.name);
    std::string text = c.doc.text();
    text.insert(text.size() - 1, std::string(kMaxJsonBytes, ' '));
    EXPECT_TRUE(FailsWith(c.decode(text), ErrorCode::too_large, std::to_string(kMaxJsonBytes)));
  }
}

TEST(Decoders, RefuseDeepNesting) {
  std::string deep = std::string(kMaxJsonDepth + 1, '[') + std::string(kMaxJsonDepth + 1, ']');
  for (const auto& c : Codecs()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(FailsWith(c.decode(c.doc.set("deep", deep).text()), ErrorCode::bad_json, "nesting"));
  }
}

TEST(Decoders, RefuseDuplicateKeys) {
  for (const auto& c : Codecs()) {
    SCOPED_TRACE(c.name);
    for (const auto& key : c.doc.keys()) {
      SCOPED_TRACE(key);
      const Doc dup = c.doc.add(key, "null");
      EXPECT_TRUE(FailsWith(c.decode(dup.text()), ErrorCode::bad_json, "duplicate key \"" + key + "\""));
    }
  }
  // Inside labels too.
  EXPECT_TRUE(FailsWith(decode_facts(kFactsDoc.set("labels", R"({"a":"1","a":"2"})").text()), ErrorCode::bad_json,
                        "duplicate key \"a\""));
}

TEST(Decoders, RefuseInvalidUtf8) {
  for (const auto& c : Codecs()) {
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(FailsWith(c.decode(c.doc.set("x\xFF", "1").text()), ErrorCode::bad_json, "UTF-8"));
  }
  EXPECT_TRUE(
      FailsWith(decode_task(kTaskDoc.set("command", "\"ls \xC0\xAF\"").text()), ErrorCode::bad_json, "command"));
  EXPECT_TRUE(FailsWith(decode_task(kArgvTaskDoc.set("argv", "[\"ls\",\"\xED\xA0\x80\"]").text()),
                        ErrorCode::bad_json, "argv"));
  EXPECT_TRUE(FailsWith(decode_output_chunk(kOutputDoc.set("data", "\"\xE2\x82\"").text()), ErrorCode::bad_json,
                        "data"));
  EXPECT_TRUE(FailsWith(decode_facts(kFactsDoc.set("labels", "{\"k\":\"\xF8\x88\x80\x80\x80\"}").text()),
                        ErrorCode::bad_json, "labels"));
  EXPECT_TRUE(FailsWith(decode_facts(kFactsDoc.set("labels", "{\"\xC3\":\"v\"}").text()), ErrorCode::bad_json,
                        "key is not valid UTF-8"));
  EXPECT_TRUE(FailsWith(decode_task_result(kResultDoc.set("stdout", "\"\xF4\x90\x80\x80\"").text()),
                        ErrorCode::bad_json, "stdout"));
}

TEST(Decoders, RefuseUnknownFields) {
  for (const auto& c : Codecs()) {
    if (!c.strict) continue;
    SCOPED_TRACE(c.name);
    for (const char* key : {"extra", "V", "Task_id", "command ", ""}) {
      SCOPED_TRACE(key);
      EXPECT_TRUE(FailsWith(c.decode(c.doc.set(key, "1").text()), ErrorCode::unknown_field,
                            std::string(c.context) + " has unknown field \"" + key + "\""));
    }
    // A null unknown field is still unknown.
    EXPECT_TRUE(FailsWith(c.decode(c.doc.set("extra", "null").text()), ErrorCode::unknown_field, "extra"));
  }
  // Fields of one message are unknown in another.
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("stream", "\"stdout\"").text()), ErrorCode::unknown_field,
                        "\"stream\""));
  EXPECT_TRUE(FailsWith(decode_output_chunk(kOutputDoc.set("command", "\"ls\"").text()),
                        ErrorCode::unknown_field, "\"command\""));
}

TEST(Decoders, RefuseOtherVersions) {
  for (const auto& c : Codecs()) {
    if (!c.versioned) continue;
    SCOPED_TRACE(c.name);
    EXPECT_TRUE(c.decode(c.doc.erase("v").text()).ok());
    EXPECT_TRUE(FailsWith(c.decode(c.doc.set("v", "2").text()), ErrorCode::invalid_field,
                          std::string(c.context) + ".v is version 2"));
    for (const char* v : {"0", "-1", "1.5", "\"1\"", "true", "[1]", "{}", "1e400", "1000000"}) {
      SCOPED_TRACE(v);
      auto r = c.decode(c.doc.set("v", v).text());
      ASSERT_FALSE(r.ok());
      EXPECT_TRUE(r.error().code == ErrorCode::invalid_field || r.error().code == ErrorCode::bad_json)
          << to_string(r.error().code);
      EXPECT_NE(r.error().message.find('v'), std::string::npos) << r.error().message;
    }
  }
}

// Every field of every message, each with wrong-typed values.
TEST(Decoders, RefuseWrongTypesForEveryField) {
  enum Kind { kString, kInteger, kNumber, kLabels, kArgv };
  struct Field {
    const char* codec;
    const char* key;
    Kind kind;
  };
  const Field fields[] = {
      {"facts", "v", kInteger},          {"facts", "hostname", kString},      {"facts", "os", kString},
      {"facts", "arch", kString},        {"facts", "kernel", kString},        {"facts", "agent_version", kString},
      {"facts", "labels", kLabels},      {"task", "v", kInteger},             {"task", "task_id", kString},
      {"task", "job_id", kString},       {"task", "command", kString},        {"task", "timeout_s", kInteger},
      {"task", "output_quota", kInteger}, {"argv task", "argv", kArgv},       {"output", "v", kInteger},
      {"output", "task_id", kString},    {"output", "job_id", kString},       {"output", "stream", kString},
      {"output", "seq", kInteger},       {"output", "data", kString},         {"result", "v", kInteger},
      {"result", "task_id", kString},    {"result", "job_id", kString},       {"result", "state", kString},
      {"result", "exit_code", kInteger}, {"result", "signal", kInteger},      {"result", "error", kString},
      {"result", "stdout", kString},     {"result", "stderr", kString},       {"result", "stdout_dropped", kInteger},
      {"result", "stderr_dropped", kInteger}, {"result", "started_at", kNumber}, {"result", "finished_at", kNumber},
      {"result", "duration_ms", kInteger}, {"enrollment", "uuid", kString},   {"enrollment", "jid", kString},
      {"enrollment", "password", kString}, {"enrollment", "xmpp_host", kString},
      {"enrollment", "xmpp_port", kInteger}, {"enrollment", "xmpp_domain", kString},
      {"enrollment", "ca_pem", kString},  {"enrollment", "master_jid", kString},
  };
  const auto codecs = Codecs();
  for (const auto& f : fields) {
    const Codec* codec = nullptr;
    for (const auto& c : codecs) {
      if (std::string_view(c.name) == f.codec) codec = &c;
    }
    ASSERT_NE(codec, nullptr) << f.codec;
    std::vector<const char*> bad;
    switch (f.kind) {
      case kString: bad = {"5", "0", "true", "false", "[]", "[\"x\"]", "{}", "1.5"}; break;
      case kInteger: bad = {"\"5\"", "\"\"", "true", "[]", "[5]", "{}", "1.5", "1e300", "-1e300"}; break;
      case kNumber: bad = {"\"5\"", "true", "[]", "{}"}; break;
      case kLabels: bad = {"\"env=prod\"", "5", "true", "[]", "[\"env\"]"}; break;
      case kArgv: bad = {"\"ls -l\"", "5", "true", "{}", "[1]", "[\"ls\",null]", "[[\"ls\"]]", "[\"ls\",{}]"}; break;
    }
    for (const char* value : bad) {
      SCOPED_TRACE(std::string(f.codec) + "." + f.key + " = " + value);
      EXPECT_TRUE(FailsWith(codec->decode(codec->doc.set(f.key, value).text()), ErrorCode::invalid_field,
                            std::string(codec->context) + "." + f.key));
    }
  }
}

TEST(Decoders, RefuseMissingRequiredFields) {
  struct Field {
    const char* codec;
    const char* key;
  };
  const Field required[] = {
      {"facts", "hostname"},     {"facts", "os"},              {"facts", "arch"},
      {"task", "task_id"},       {"task", "job_id"},           {"task", "timeout_s"},
      {"output", "task_id"},     {"output", "job_id"},         {"output", "stream"},
      {"output", "seq"},         {"output", "data"},           {"result", "task_id"},
      {"result", "job_id"},      {"result", "state"},          {"result", "stdout"},
      {"result", "stderr"},      {"result", "started_at"},     {"result", "finished_at"},
      {"result", "duration_ms"}, {"enrollment", "uuid"},       {"enrollment", "jid"},
      {"enrollment", "password"}, {"enrollment", "xmpp_host"}, {"enrollment", "xmpp_port"},
      {"enrollment", "xmpp_domain"}, {"enrollment", "ca_pem"}, {"enrollment", "master_jid"},
  };
  const auto codecs = Codecs();
  for (const auto& f : required) {
    const Codec* codec = nullptr;
    for (const auto& c : codecs) {
      if (std::string_view(c.name) == f.codec) codec = &c;
    }
    ASSERT_NE(codec, nullptr);
    SCOPED_TRACE(std::string(f.codec) + "." + f.key);
    const std::string needle = std::string(codec->context) + "." + f.key + " is required";
    EXPECT_TRUE(FailsWith(codec->decode(codec->doc.erase(f.key).text()), ErrorCode::missing_field, needle));
    EXPECT_TRUE(FailsWith(codec->decode(codec->doc.set(f.key, "null").text()), ErrorCode::missing_field, needle));
  }
  for (const auto& c : codecs) {
    SCOPED_TRACE(c.name);
    auto r = c.decode("{}");
    EXPECT_TRUE(FailsWith(r, ErrorCode::missing_field, "is required"));
  }
}

TEST(Decoders, RefuseNonUuidIds) {
  const std::vector<std::string> bad = {
      "",
      "not-a-uuid",
      "0B8C3C1E-4F5A-4D2B-9A8E-1C2D3E4F5A6B",   // upper case
      "0b8c3c1e4f5a4d2b9a8e1c2d3e4f5a6b",       // no dashes
      "{0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6}",  // braces
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6",    // short
      "0b8c3c1e_4f5a_4d2b_9a8e_1c2d3e4f5a6b",   // wrong separators
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6g",   // not hex
      "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b ",  // trailing space (37 bytes)
      "../../../../../../../../etc/passwd12",   // 36 bytes, path
  };
  struct Field {
    const char* codec;
    const char* key;
  };
  const Field ids[] = {{"task", "task_id"},   {"task", "job_id"},   {"argv task", "task_id"},
                       {"output", "task_id"}, {"output", "job_id"}, {"result", "task_id"},
                       {"result", "job_id"},  {"enrollment", "uuid"}};
  const auto codecs = Codecs();
  for (const auto& f : ids) {
    const Codec* codec = nullptr;
    for (const auto& c : codecs) {
      if (std::string_view(c.name) == f.codec) codec = &c;
    }
    ASSERT_NE(codec, nullptr);
    for (const auto& id : bad) {
      SCOPED_TRACE(std::string(f.codec) + "." + f.key + " = " + id);
      EXPECT_TRUE(FailsWith(codec->decode(codec->doc.set(f.key, Quoted(id)).text()), ErrorCode::invalid_field,
                            f.key));
    }
  }
}

// ------------------------------------------------------- malformed: facts

TEST(FactsCodec, RefusesOverlongStrings) {
  struct Case {
    const char* key;
    std::size_t max;
  };
  for (const auto& c : {Case{"hostname", 255}, Case{"os", 64}, Case{"arch", 64}, Case{"kernel", 255},
                        Case{"agent_version", 64}}) {
    SCOPED_TRACE(c.key);
    EXPECT_TRUE(decode_facts(kFactsDoc.set(c.key, Quoted(std::string(c.max, 'x'))).text()).ok());
    EXPECT_TRUE(FailsWith(decode_facts(kFactsDoc.set(c.key, Quoted(std::string(c.max + 1, 'x'))).text()),
                          ErrorCode::invalid_field, std::string("facts.") + c.key + " is longer than"));
  }
}

TEST(FactsCodec, RefusesBadLabels) {
  const std::vector<std::string> bad = {
      R"({"":"v"})",
      R"({"with space":"v"})",
      R"({"slash/key":"v"})",
      "{\"" + std::string(64, 'k') + "\":\"v\"}",
      R"({"k":1})",
      R"({"k":true})",
      R"({"k":null})",
      R"({"k":["v"]})",
      R"({"k":{"nested":"v"}})",
      R"({"k":"new\nline"})",
      R"({"k":"caf\u00e9"})",
      "{\"k\":\"" + std::string(256, 'v') + "\"}",
  };
  for (const auto& labels : bad) {
    SCOPED_TRACE(labels);
    EXPECT_TRUE(FailsWith(decode_facts(kFactsDoc.set("labels", labels).text()), ErrorCode::invalid_field,
                          "facts.labels"));
  }
  std::string many = "{";
  for (int i = 0; i < 65; ++i) many += (i ? ",\"l" : "\"l") + std::to_string(i) + "\":\"v\"";
  many += "}";
  EXPECT_TRUE(FailsWith(decode_facts(kFactsDoc.set("labels", many).text()), ErrorCode::invalid_field,
                        "facts.labels has more than 64 labels"));
}

// -------------------------------------------------------- malformed: task

TEST(TaskCodec, RefusesTimeoutOutOfRange) {
  for (const char* value : {"0", "-1", "86401", "1e300", "1e400", "9223372036854775808", "-9223372036854775809",
                            "0.5", "60.5", "1e-5", "\"60\"", "true", "-0.0000001"}) {
    SCOPED_TRACE(value);
    auto r = decode_task(kTaskDoc.set("timeout_s", value).text());
    const auto code = std::string_view(value) == "1e400" ? ErrorCode::bad_json : ErrorCode::invalid_field;
    EXPECT_TRUE(FailsWith(r, code, "timeout_s"));
  }
  for (const char* value : {"1", "86400", "60.0", "6e1", "8.64e4"}) {
    SCOPED_TRACE(value);
    auto r = decode_task(kTaskDoc.set("timeout_s", value).text());
    ASSERT_TRUE(r.ok()) << r.error().message;
  }
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("timeout_s", "0").text()), ErrorCode::invalid_field,
                        "task.timeout_s must be an integer between 1 and 86400"));
}

TEST(TaskCodec, RefusesOutputQuotaOutOfRange) {
  for (const char* value : {"0", "1023", "16777217", "-65536", "65536.5", "1e20"}) {
    SCOPED_TRACE(value);
    EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("output_quota", value).text()), ErrorCode::invalid_field,
                          "task.output_quota"));
  }
}

TEST(TaskCodec, NeedsExactlyOneOfCommandAndArgv) {
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("argv", R"(["ls"])").text()), ErrorCode::invalid_field,
                        "exactly one of command and argv"));
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("argv", "[]").text()), ErrorCode::invalid_field,
                        "exactly one of command and argv"));
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.erase("command").text()), ErrorCode::invalid_field,
                        "exactly one of command and argv"));
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("command", "null").text()), ErrorCode::invalid_field,
                        "exactly one of command and argv"));
  EXPECT_TRUE(FailsWith(decode_task(kArgvTaskDoc.set("argv", "null").text()), ErrorCode::invalid_field,
                        "exactly one of command and argv"));
  // null for the other one is the same as absent.
  EXPECT_TRUE(decode_task(kTaskDoc.set("argv", "null").text()).ok());
  EXPECT_TRUE(decode_task(kArgvTaskDoc.set("command", "null").text()).ok());
}

TEST(TaskCodec, RefusesEmptyCommandOrArgv) {
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("command", "\"\"").text()), ErrorCode::invalid_field,
                        "task.command is empty"));
  EXPECT_TRUE(FailsWith(decode_task(kArgvTaskDoc.set("argv", "[]").text()), ErrorCode::invalid_field,
                        "task.argv is empty"));
  // The encoder of an argv task with no items yields what the decoder refuses.
  Task t = SampleTask();
  EXPECT_TRUE(FailsWith(decode_task(encode(t)), ErrorCode::invalid_field, "task.argv is empty"));
}

TEST(TaskCodec, RefusesOversizeCommandAndArgv) {
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("command", Quoted(std::string(kMaxCommandBytes + 1, 'c'))).text()),
                        ErrorCode::invalid_field, "task.command is longer than"));
  EXPECT_TRUE(FailsWith(
      decode_task(kArgvTaskDoc.set("argv", "[\"" + std::string(kMaxCommandBytes + 1, 'a') + "\"]").text()),
      ErrorCode::invalid_field, "task.argv has an item longer than"));
  std::string argv = "[";
  for (std::size_t i = 0; i <= kMaxArgvItems; ++i) argv += i == 0 ? "\"x\"" : ",\"x\"";
  argv += "]";
  EXPECT_TRUE(FailsWith(decode_task(kArgvTaskDoc.set("argv", argv).text()), ErrorCode::invalid_field,
                        "task.argv has more than 256 items"));
}

TEST(TaskCodec, RefusesOverlongIds) {
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("task_id", Quoted(std::string(kTaskId) + "0")).text()),
                        ErrorCode::invalid_field, "task.task_id is longer than 36"));
}

TEST(TaskCodec, FirstErrorWins) {
  // Unknown field is checked before anything else.
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("timeout_s", "0").set("zzz", "1").text()),
                        ErrorCode::unknown_field, "zzz"));
  // Version before fields.
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("v", "2").erase("task_id").text()), ErrorCode::invalid_field,
                        "task.v"));
  // Field order of the decoder, not of the text.
  EXPECT_TRUE(FailsWith(decode_task(kTaskDoc.set("timeout_s", "0").erase("job_id").text()),
                        ErrorCode::missing_field, "task.job_id"));
}

// ------------------------------------------------------ malformed: output

TEST(OutputChunkCodec, RefusesUnknownStream) {
  for (const char* stream : {"\"\"", "\"stdin\"", "\"STDOUT\"", "\"Stdout\"", "\"stdout \"", "\"1\"",
                             "\"stdoutstderr\""}) {
    SCOPED_TRACE(stream);
    auto r = decode_output_chunk(kOutputDoc.set("stream", stream).text());
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("stream"), std::string::npos) << r.error().message;
  }
  // A NUL would truncate "stderr\u0000x" to "stderr" in cJSON: refused outright.
  EXPECT_TRUE(FailsWith(decode_output_chunk(kOutputDoc.set("stream", "\"stderr\\u0000x\"").text()),
                        ErrorCode::bad_json, "NUL"));
  EXPECT_TRUE(FailsWith(decode_output_chunk(kOutputDoc.set("stream", "\"stdin\"").text()), ErrorCode::invalid_field,
                        "output.stream must be \"stdout\" or \"stderr\""));
  EXPECT_TRUE(FailsWith(decode_output_chunk(kOutputDoc.set("stream", Quoted(std::string(17, 's'))).text()),
                        ErrorCode::invalid_field, "output.stream"));
  EXPECT_TRUE(FailsWith(decode_output_chunk(kOutputDoc.set("stream", "1").text()), ErrorCode::invalid_field,
                        "output.stream must be a string"));
}

TEST(OutputChunkCodec, RefusesSeqOutOfRange) {
  for (const char* value : {"-1", "1.5", "4503599627370497", "9007199254740993", "1e300", "\"1\""}) {
    SCOPED_TRACE(value);
    EXPECT_TRUE(FailsWith(decode_output_chunk(kOutputDoc.set("seq", value).text()), ErrorCode::invalid_field,
                          "output.seq"));
  }
  EXPECT_TRUE(FailsWith(decode_output_chunk(kOutputDoc.set("seq", "1e400").text()), ErrorCode::bad_json, "seq"));
}

TEST(OutputChunkCodec, RefusesOversizeData) {
  EXPECT_TRUE(FailsWith(
      decode_output_chunk(kOutputDoc.set("data", Quoted(std::string(kMaxOutputChunkBytes * 4 + 1, 'd'))).text()),
      ErrorCode::invalid_field, "output.data is longer than"));
}

// ------------------------------------------------------ malformed: result

TEST(TaskResultCodec, RefusesUnknownState) {
  for (const char* state : {"\"\"", "\"running\"", "\"SUCCEEDED\"", "\"success\"", "\"timeout\"", "\"canceled\"",
                            "\"succeeded \"", "\"queued\""}) {
    SCOPED_TRACE(state);
    EXPECT_TRUE(FailsWith(decode_task_result(kResultDoc.set("state", state).text()), ErrorCode::invalid_field,
                          "result.state"));
  }
  EXPECT_TRUE(FailsWith(decode_task_result(kResultDoc.set("state", Quoted(std::string(17, 'x'))).text()),
                        ErrorCode::invalid_field, "result.state is longer than 16"));
}

TEST(TaskResultCodec, RefusesOutOfRangeNumbers) {
  struct Case {
    const char* key;
    const char* value;
  };
  const Case cases[] = {
      {"exit_code", "2147483648"},    {"exit_code", "-2147483649"}, {"exit_code", "0.5"},
      {"signal", "0"},                {"signal", "129"},            {"signal", "-9"},
      {"signal", "9.5"},              {"stdout_dropped", "-1"},     {"stderr_dropped", "-1"},
      {"stdout_dropped", "4503599627370497"}, {"duration_ms", "-1"}, {"duration_ms", "0.5"},
      {"duration_ms", "1e300"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.key) + " = " + c.value);
    EXPECT_TRUE(FailsWith(decode_task_result(kResultDoc.set(c.key, c.value).text()), ErrorCode::invalid_field,
                          std::string("result.") + c.key));
  }
  for (const char* key : {"started_at", "finished_at", "exit_code", "duration_ms"}) {
    SCOPED_TRACE(key);
    EXPECT_TRUE(FailsWith(decode_task_result(kResultDoc.set(key, "1e400").text()), ErrorCode::bad_json, key));
  }
  // Any finite number is a valid time.
  EXPECT_TRUE(decode_task_result(kResultDoc.set("started_at", "-1.5").set("finished_at", "1e300").text()).ok());
}

TEST(TaskResultCodec, RefusesOverlongError) {
  EXPECT_TRUE(FailsWith(decode_task_result(kResultDoc.set("error", Quoted(std::string(4097, 'e'))).text()),
                        ErrorCode::invalid_field, "result.error is longer than 4096"));
}

// -------------------------------------------------- malformed: enrollment

TEST(EnrollmentCodec, RefusesBadPort) {
  for (const char* port : {"0", "-1", "65536", "5222.5", "\"5222\"", "1e300"}) {
    SCOPED_TRACE(port);
    EXPECT_TRUE(FailsWith(decode_enrollment(kEnrollmentDoc.set("xmpp_port", port).text()), ErrorCode::invalid_field,
                          "enrollment.xmpp_port"));
  }
}

TEST(EnrollmentCodec, RefusesOverlongStrings) {
  struct Case {
    const char* key;
    std::size_t max;
  };
  for (const auto& c : {Case{"jid", 1024}, Case{"password", 1024}, Case{"xmpp_host", 255},
                        Case{"xmpp_domain", 255}, Case{"master_jid", 1024}, Case{"ca_pem", 256u << 10}}) {
    SCOPED_TRACE(c.key);
    EXPECT_TRUE(decode_enrollment(kEnrollmentDoc.set(c.key, Quoted(std::string(c.max, 'x'))).text()).ok());
    EXPECT_TRUE(
        FailsWith(decode_enrollment(kEnrollmentDoc.set(c.key, Quoted(std::string(c.max + 1, 'x'))).text()),
                  ErrorCode::invalid_field, std::string("enrollment.") + c.key + " is longer than"));
  }
}

// ------------------------------------------------------------ XML safety

TEST(Encoders, OutputIsXmlSafeText) {
  // Encoded payloads go into XML text: after to_xml_safe_utf8 of the fields
  // (the agent's job) the JSON itself must be valid XML-safe UTF-8.
  OutputChunk c;
  c.task_id = kTaskId;
  c.job_id = kJobId;
  c.data = to_xml_safe_utf8("a\x01\x02\x1B[31mred\xFF\n");
  const std::string text = encode(c);
  EXPECT_TRUE(is_utf8(text));
  EXPECT_EQ(to_xml_safe_utf8(text), text);
  auto back = decode_output_chunk(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->data, c.data);
}
