#pragma once
// The v1 payloads that travel inside stanzas (see docs/protocol.md) and the
// enrollment answer. Each has one encoder and one strict decoder.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "muster/proto/json.hpp"
#include "muster/proto/result.hpp"

namespace muster::proto {

inline constexpr std::int64_t kProtocolVersion = 1;
inline constexpr const char* kNamespace = "urn:muster:1";
inline constexpr const char* kTaskElement = "task";
inline constexpr const char* kResultElement = "result";
inline constexpr const char* kOutputElement = "output";
inline constexpr const char* kFactsElement = "facts";
inline constexpr const char* kReasonElement = "reason";
inline constexpr const char* kCancelElement = "cancel";
inline constexpr const char* kAgentResource = "muster";

inline constexpr std::int64_t kMaxTimeoutSeconds = 86400;
inline constexpr std::int64_t kMinOutputQuota = 1024;
// Per stream. A result carries up to twice this, and must fit in one stanza
// (see docs/xmpp-server.md for the server's stanza size limits).
inline constexpr std::int64_t kMaxOutputQuota = 1 << 20;
// What the agent lets a result stanza grow to, XML escaping included; it
// drops more of the middle of the output if needed to stay below.
inline constexpr std::size_t kMaxResultStanzaBytes = 3 << 20;
inline constexpr std::int64_t kDefaultOutputQuota = 64 << 10;
inline constexpr std::size_t kMaxCommandBytes = 64 << 10;
inline constexpr std::size_t kMaxArgvItems = 256;
inline constexpr std::size_t kMaxOutputChunkBytes = 16 << 10;
inline constexpr std::size_t kMaxErrorBytes = 4096;

struct Facts {
  std::string hostname;
  std::string os;
  std::string arch;
  std::string kernel;
  std::string agent_version;
  StringMap labels;
};

// Proof that the api sent a task (see signing.hpp). Base64, not hex: the
// proof is most of a task stanza at fan-out to thousands of agents.
struct TaskAuth {
  std::string key_id;
  std::string signature;  // base64 of the DER ECDSA signature over SHA-256(statement)
  std::string statement;  // JobStatement text
  std::string proof;      // Merkle siblings, leaf to root: per step 'l'|'r' + 44 base64 characters
};

// A signed task carries its command and options only inside the statement;
// decoding fills these fields from it (the statement is checked later, by
// verify_task), so nothing is sent twice.
struct Task {
  std::string task_id;
  std::string job_id;
  std::optional<std::string> command;  // run by /bin/sh -c
  std::vector<std::string> argv;       // or run directly
  std::int64_t timeout_s = 300;
  std::int64_t output_quota = kDefaultOutputQuota;
  bool as_root = false;  // an agent running as root keeps root for this task
  std::optional<TaskAuth> auth;
};

enum class Stream { stdout_stream, stderr_stream };

struct OutputChunk {
  std::string task_id;
  std::string job_id;
  Stream stream = Stream::stdout_stream;
  std::int64_t seq = 0;
  std::string data;
};

enum class TaskOutcome { succeeded, failed, timed_out, cancelled };
const char* to_string(TaskOutcome outcome);

struct TaskResult {
  std::string task_id;
  std::string job_id;
  TaskOutcome state = TaskOutcome::failed;
  std::optional<std::int64_t> exit_code;
  std::optional<std::int64_t> signal;
  std::optional<std::string> error;
  std::string stdout_text;
  std::string stderr_text;
  std::int64_t stdout_dropped = 0;
  std::int64_t stderr_dropped = 0;
  double started_at = 0;
  double finished_at = 0;
  std::int64_t duration_ms = 0;
};

// Master → agent: stop this task (kill its tree) or never start it.
struct CancelRequest {
  std::string task_id;
  std::string job_id;
};

struct Enrollment {
  std::string uuid;
  std::string jid;
  std::string password;
  std::string xmpp_host;
  std::int64_t xmpp_port = 5222;
  std::string xmpp_domain;
  std::string ca_pem;
  std::string master_jid;
  std::vector<std::string> signing_keys;  // PEM public keys the agent pins
};

std::string encode(const Facts& facts);
std::string encode(const Task& task);
std::string encode(const OutputChunk& chunk);
std::string encode(const TaskResult& result);
std::string encode(const Enrollment& enrollment);
std::string encode(const CancelRequest& cancel);

Result<Facts> decode_facts(const cJSON* object);
Result<Task> decode_task(const cJSON* object);
Result<OutputChunk> decode_output_chunk(const cJSON* object);
Result<TaskResult> decode_task_result(const cJSON* object);
Result<Enrollment> decode_enrollment(const cJSON* object);
Result<CancelRequest> decode_cancel(const cJSON* object);

// Text → message: parse_object then decode_*.
Result<Facts> decode_facts(std::string_view text);
Result<Task> decode_task(std::string_view text);
Result<OutputChunk> decode_output_chunk(std::string_view text);
Result<TaskResult> decode_task_result(std::string_view text);
Result<Enrollment> decode_enrollment(std::string_view text);
Result<CancelRequest> decode_cancel(std::string_view text);

}  // namespace muster::proto
