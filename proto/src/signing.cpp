#include "muster/proto/signing.hpp"

#include <mbedtls/base64.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/sha256.h>

#include <algorithm>
#include <cstdio>
#include <deque>
#include <mutex>

#include "muster/proto/messages.hpp"
#include "muster/proto/uuid.hpp"

namespace muster::proto {
namespace {

constexpr char kLeafPrefix = '\x00';
constexpr char kNodePrefix = '\x01';

std::string sha256(std::string_view data) {
  unsigned char digest[32];
  mbedtls_sha256_ret(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, 0);
  return std::string(reinterpret_cast<const char*>(digest), sizeof digest);
}

std::string node_hash(const std::string& left, const std::string& right) {
  return sha256(std::string(1, kNodePrefix) + left + right);
}

std::optional<std::string> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  std::string out;
  out.reserve(hex.size() / 2);
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (std::size_t i = 0; i < hex.size(); i += 2) {
    const int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
  }
  return out;
}

std::string to_base64(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  std::size_t len = 0;
  mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &len,
                        reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
  out.resize(len);
  return out;
}

std::optional<std::string> from_base64(std::string_view text) {
  std::string out(text.size() / 4 * 3 + 3, '\0');
  std::size_t len = 0;
  if (mbedtls_base64_decode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &len,
                            reinterpret_cast<const unsigned char*>(text.data()), text.size()) != 0) {
    return std::nullopt;
  }
  out.resize(len);
  return out;
}

Error crypto_error(const std::string& what, int rc) {
  char text[32];
  std::snprintf(text, sizeof text, " (mbedTLS -0x%04x)", static_cast<unsigned>(-rc));
  return Error{ErrorCode::crypto, what + text};
}

struct PkContext {
  PkContext() { mbedtls_pk_init(&pk); }
  ~PkContext() { mbedtls_pk_free(&pk); }
  PkContext(const PkContext&) = delete;
  PkContext& operator=(const PkContext&) = delete;
  mbedtls_pk_context pk;
};

bool is_p256(mbedtls_pk_context& pk) {
  return mbedtls_pk_get_type(&pk) == MBEDTLS_PK_ECKEY && mbedtls_pk_ec(pk)->grp.id == MBEDTLS_ECP_DP_SECP256R1;
}

Result<std::string> key_id_of(mbedtls_pk_context& pk) {
  unsigned char der[512];
  const int len = mbedtls_pk_write_pubkey_der(&pk, der, sizeof der);
  if (len <= 0) return crypto_error("cannot encode public key", len);
  // mbedtls writes DER at the end of the buffer.
  return to_hex(sha256(std::string_view(reinterpret_cast<const char*>(der + sizeof der - len), static_cast<std::size_t>(len))))
      .substr(0, 16);
}

}  // namespace

std::string encode(const JobStatement& s) {
  JsonBuilder b;
  b.add("v", kProtocolVersion).add("job_id", s.job_id);
  if (s.command) {
    b.add("command", *s.command);
  } else {
    b.add("argv", s.argv);
  }
  return b.add("timeout_s", s.timeout_s)
      .add("output_quota", s.output_quota)
      .add("as_root", s.as_root)
      .add("not_after", s.not_after)
      .add("merkle_root", s.merkle_root)
      .dump();
}

Result<JobStatement> decode_statement(std::string_view text) {
  auto root = parse_object(text, 64 << 10 << 2);
  if (!root) return root.error();
  JobStatement s;
  FieldReader r(root->get(), "statement");
  r.only({"v", "job_id", "command", "argv", "timeout_s", "output_quota", "as_root", "not_after", "merkle_root"})
      .version(kProtocolVersion)
      .required("job_id", s.job_id, 36)
      .optional("command", s.command, kMaxCommandBytes)
      .optional("argv", s.argv, kMaxArgvItems, kMaxCommandBytes)
      .required("timeout_s", s.timeout_s, 1, kMaxTimeoutSeconds)
      .required("output_quota", s.output_quota, kMinOutputQuota, kMaxOutputQuota)
      .optional("as_root", s.as_root)
      .required("not_after", s.not_after)
      .required("merkle_root", s.merkle_root, 64);
  if (r.ok() && s.command.has_value() == r.has("argv")) r.fail(ErrorCode::invalid_field, "statement needs command or argv");
  if (r.ok() && (s.merkle_root.size() != 64 || !from_hex(s.merkle_root))) {
    r.fail(ErrorCode::invalid_field, "statement.merkle_root must be 64 hex characters");
  }
  if (!r.ok()) return *r.error();
  return s;
}

std::string task_leaf(const std::string& agent_id, const std::string& task_id) {
  return sha256(std::string(1, kLeafPrefix) + agent_id + ":" + task_id);
}

MerkleTree::MerkleTree(std::vector<std::string> leaves) {
  levels_.push_back(std::move(leaves));
  while (levels_.back().size() > 1) {
    const auto& below = levels_.back();
    std::vector<std::string> level;
    level.reserve((below.size() + 1) / 2);
    for (std::size_t i = 0; i < below.size(); i += 2) {
      // An odd node out is carried up unchanged.
      level.push_back(i + 1 < below.size() ? node_hash(below[i], below[i + 1]) : below[i]);
    }
    levels_.push_back(std::move(level));
  }
}

std::string MerkleTree::root_hex() const {
  return levels_.back().empty() ? std::string(64, '0') : to_hex(levels_.back()[0]);
}

std::string MerkleTree::proof(std::size_t index) const {
  std::string path;
  for (std::size_t level = 0; level + 1 < levels_.size(); ++level) {
    const auto& nodes = levels_[level];
    const std::size_t sibling = index ^ 1u;
    if (sibling < nodes.size()) path += (index % 2 == 0 ? "r" : "l") + to_base64(nodes[sibling]);
    index /= 2;
  }
  return path;
}

std::optional<std::string> merkle_root_from_proof(const std::string& leaf, std::string_view proof) {
  if (proof.size() % kProofStepChars != 0 || proof.size() / kProofStepChars > kMaxProofSteps) return std::nullopt;
  std::string hash = leaf;
  for (std::size_t at = 0; at < proof.size(); at += kProofStepChars) {
    const char side = proof[at];
    const auto sibling = from_base64(proof.substr(at + 1, kProofStepChars - 1));
    if ((side != 'l' && side != 'r') || !sibling || sibling->size() != 32) return std::nullopt;
    hash = side == 'l' ? node_hash(*sibling, hash) : node_hash(hash, *sibling);
  }
  return to_hex(hash);
}

struct Signer::Impl {
  PkContext key;
};

Signer::Signer() : impl_(std::make_unique<Impl>()) {}
Signer::~Signer() = default;

Result<std::unique_ptr<Signer>> Signer::from_pem(const std::string& pem) {
  std::unique_ptr<Signer> signer(new Signer());
  mbedtls_pk_context& pk = signer->impl_->key.pk;
  const int rc = mbedtls_pk_parse_key(&pk, reinterpret_cast<const unsigned char*>(pem.c_str()), pem.size() + 1,
                                      nullptr, 0);
  if (rc != 0) return crypto_error("cannot read the signing key", rc);
  if (!is_p256(pk)) return Error{ErrorCode::crypto, "the signing key must be ECDSA P-256"};
  unsigned char out[1024];
  if (const int w = mbedtls_pk_write_pubkey_pem(&pk, out, sizeof out); w != 0) return crypto_error("cannot write public key", w);
  signer->public_pem_ = reinterpret_cast<const char*>(out);
  auto id = key_id_of(pk);
  if (!id) return id.error();
  signer->key_id_ = *id;
  return signer;
}

Result<std::unique_ptr<Signer>> Signer::load_or_create(const std::string& path) {
  // Plain stdio, not <fstream>: iostreams would link std::locale into every
  // program using proto/, the static agent included.
  if (std::FILE* in = std::fopen(path.c_str(), "rb")) {
    std::string text;
    char buf[4096];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, in)) > 0;) text.append(buf, n);
    const bool failed = std::ferror(in) != 0;
    std::fclose(in);
    if (failed) return Error{ErrorCode::io, "cannot read " + path};
    return from_pem(text);
  }
  PkContext key;
  int rc = mbedtls_pk_setup(&key.pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY));
  if (rc == 0) rc = mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key.pk), mbedtls_random, nullptr);
  unsigned char pem[2048];
  if (rc == 0) rc = mbedtls_pk_write_key_pem(&key.pk, pem, sizeof pem);
  if (rc != 0) return crypto_error("cannot create a signing key", rc);
  const std::string text(reinterpret_cast<const char*>(pem));
  const std::string tmp = path + ".tmp";
  std::FILE* f = std::fopen(tmp.c_str(), "wx");
  if (f == nullptr) return Error{ErrorCode::io, "cannot create " + tmp};
  const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
  std::fclose(f);
  if (!written || std::rename(tmp.c_str(), path.c_str()) != 0) return Error{ErrorCode::io, "cannot write " + path};
  return from_pem(text);
}

Result<std::string> Signer::sign_base64(std::string_view message) const {
  const std::string digest = sha256(message);
  unsigned char sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
  std::size_t len = 0;
  const int rc = mbedtls_pk_sign(&impl_->key.pk, MBEDTLS_MD_SHA256, reinterpret_cast<const unsigned char*>(digest.data()),
                                 digest.size(), sig, &len, mbedtls_random, nullptr);
  if (rc != 0) return crypto_error("signing failed", rc);
  return to_base64(std::string_view(reinterpret_cast<const char*>(sig), len));
}

Status verify_task(const Task& task, const std::string& agent_id, const Verifier& verifier, double now) {
  auto refuse = [](const std::string& why) { return Error{ErrorCode::crypto, why}; };
  if (!task.auth) return refuse("unsigned task");
  const TaskAuth& auth = *task.auth;
  if (auto checked = verifier.verify(auth.key_id, auth.statement, auth.signature); !checked) return checked;
  auto statement = decode_statement(auth.statement);
  if (!statement) return refuse("malformed statement: " + statement.error().message);
  const bool same = statement->job_id == task.job_id && statement->command == task.command &&
                    statement->argv == task.argv && statement->timeout_s == task.timeout_s &&
                    statement->output_quota == task.output_quota && statement->as_root == task.as_root;
  if (!same) return refuse("the task differs from what the api signed");
  if (now > statement->not_after) return refuse("the signed statement expired");
  const auto root = merkle_root_from_proof(task_leaf(agent_id, task.task_id), auth.proof);
  if (!root || *root != statement->merkle_root) return refuse("the task was not signed for this agent");
  return Ok{};
}

Result<std::string> public_key_id(const std::string& public_pem) {
  PkContext key;
  const int rc = mbedtls_pk_parse_public_key(&key.pk, reinterpret_cast<const unsigned char*>(public_pem.c_str()),
                                             public_pem.size() + 1);
  if (rc != 0) return crypto_error("cannot read a public key", rc);
  if (!is_p256(key.pk)) return Error{ErrorCode::crypto, "public keys must be ECDSA P-256"};
  return key_id_of(key.pk);
}

Result<Verifier> Verifier::from_pems(const std::vector<std::string>& pems) {
  Verifier v;
  for (const auto& pem : pems) {
    auto id = public_key_id(pem);
    if (!id) return id.error();
    v.keys_.emplace_back(*id, pem);
  }
  if (v.keys_.empty()) return Error{ErrorCode::crypto, "no signing key pinned"};
  return v;
}

std::vector<std::string> Verifier::key_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, pem] : keys_) ids.push_back(id);
  return ids;
}

Status Verifier::verify(const std::string& key_id, std::string_view message, const std::string& signature_base64) const {
  const std::string* pem = nullptr;
  for (const auto& [id, key] : keys_) {
    if (id == key_id) pem = &key;
  }
  if (pem == nullptr) return Error{ErrorCode::crypto, "signed with key " + key_id.substr(0, 16) + ", which is not pinned"};
  const auto signature = from_base64(signature_base64);
  if (!signature || signature->empty() || signature->size() > MBEDTLS_PK_SIGNATURE_MAX_SIZE) {
    return Error{ErrorCode::crypto, "malformed signature"};
  }
  const std::string digest = sha256(message);
  // Every task of a job carries the same signed statement. An ECDSA verify
  // costs milliseconds, so the last few verified (key, digest, signature)
  // triples are remembered: the same bytes always verify the same way, and
  // only successes are kept. Many agents in one process (bench/swarm) then
  // pay for a job's signature once; each still checks its own Merkle proof.
  const std::string memo_key = sha256(*pem + digest + *signature);
  static std::mutex memo_mutex;
  static std::deque<std::string> memo;
  constexpr std::size_t kMemoSize = 16;
  {
    std::lock_guard<std::mutex> lock(memo_mutex);
    if (std::find(memo.begin(), memo.end(), memo_key) != memo.end()) return Ok{};
  }
  PkContext key;
  int rc = mbedtls_pk_parse_public_key(&key.pk, reinterpret_cast<const unsigned char*>(pem->c_str()), pem->size() + 1);
  if (rc != 0) return crypto_error("cannot read a pinned key", rc);
  rc = mbedtls_pk_verify(&key.pk, MBEDTLS_MD_SHA256, reinterpret_cast<const unsigned char*>(digest.data()), digest.size(),
                         reinterpret_cast<const unsigned char*>(signature->data()), signature->size());
  if (rc != 0) return Error{ErrorCode::crypto, "bad signature"};
  std::lock_guard<std::mutex> lock(memo_mutex);
  memo.push_back(memo_key);
  if (memo.size() > kMemoSize) memo.pop_front();
  return Ok{};
}

}  // namespace muster::proto
