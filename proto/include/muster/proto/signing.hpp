#pragma once
// The api signs what it asks agents to do; agents verify against the keys
// pinned at enrollment, so neither a master nor the XMPP server can make an
// agent run anything the api did not sign.
//
// One ECDSA P-256 signature per job (not per task: at fan-out to 10,000
// agents per-task signatures would cost seconds). The signed statement binds
// the command and its options, a not-after time and the root of a Merkle
// tree whose leaves are (agent id, task id) pairs; each task carries the
// path from its leaf to that root. An agent thus accepts a task only if it is
// meant for it, with exactly the signed command, before the deadline, and at
// most once (its journal refuses a repeated task id).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "muster/proto/json.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/result.hpp"

namespace muster::proto {

struct JobStatement {
  std::string job_id;
  std::optional<std::string> command;
  std::vector<std::string> argv;
  std::int64_t timeout_s = 0;
  std::int64_t output_quota = 0;
  bool as_root = false;
  double not_after = 0;
  std::string merkle_root;  // hex
};

// Canonical text: the exact bytes that are signed and sent.
std::string encode(const JobStatement& statement);
Result<JobStatement> decode_statement(std::string_view text);

// Merkle tree over (agent id, task id) leaves, SHA-256 with leaf/node prefixes.
std::string task_leaf(const std::string& agent_id, const std::string& task_id);  // raw 32 bytes
// A proof step is 'l' or 'r' (the side of the sibling) and the sibling's hash in base64.
inline constexpr std::size_t kProofStepChars = 45;
inline constexpr std::size_t kMaxProofSteps = 64;
class MerkleTree {
 public:
  explicit MerkleTree(std::vector<std::string> leaves);
  std::string root_hex() const;
  std::string proof(std::size_t leaf_index) const;  // TaskAuth::proof

 private:
  std::vector<std::vector<std::string>> levels_;  // levels_[0] = leaves
};
// The root (hex) reached from `leaf` through `proof`, or nullopt if the proof is malformed.
std::optional<std::string> merkle_root_from_proof(const std::string& leaf, std::string_view proof);

class Signer {
 public:
  // Reads a PEM EC P-256 private key; creates one (mode 0600) if the file does not exist.
  static Result<std::unique_ptr<Signer>> load_or_create(const std::string& path);
  static Result<std::unique_ptr<Signer>> from_pem(const std::string& pem);
  ~Signer();
  Signer(const Signer&) = delete;
  Signer& operator=(const Signer&) = delete;

  const std::string& key_id() const { return key_id_; }
  const std::string& public_pem() const { return public_pem_; }
  Result<std::string> sign_base64(std::string_view message) const;  // TaskAuth::signature

 private:
  Signer();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string key_id_;
  std::string public_pem_;
};

class Verifier {
 public:
  // Each PEM a public key (SubjectPublicKeyInfo); all are accepted.
  static Result<Verifier> from_pems(const std::vector<std::string>& pems);
  Status verify(const std::string& key_id, std::string_view message, const std::string& signature_base64) const;
  std::vector<std::string> key_ids() const;

 private:
  std::vector<std::pair<std::string, std::string>> keys_;  // key id → public PEM
};

// Checks everything an agent must before running `task`: signed by a pinned
// key, the statement matches the task exactly, it is meant for `agent_id`,
// and `now` is before its not-after time. The error says which check failed.
Status verify_task(const Task& task, const std::string& agent_id, const Verifier& verifier, double now);

// Key id of a public key: the first 16 hex characters of SHA-256 over its DER form.
Result<std::string> public_key_id(const std::string& public_pem);

}  // namespace muster::proto
