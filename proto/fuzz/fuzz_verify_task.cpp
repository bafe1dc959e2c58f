// libFuzzer: proto::verify_task on decoded tasks, with a fixed pinned key.
//
// The first byte picks the mode. Even: the task is checked exactly as sent
// (a forger without the key). Odd: the harness signs the task's statement with
// the pinned key first, so the checks behind the signature (statement against
// task, expiry, Merkle proof) see fuzzed input too. In that mode a task the
// verifier accepts must really be what the statement says, for this agent.
#include <memory>

#include "fuzz_common.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/signing.hpp"

namespace {

// A throwaway P-256 key for this harness only; it signs nothing real.
constexpr const char* kFuzzKeyPem =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg7hDYIDL9ExhM/BaV\n"
    "qDS4RY1IYFz048XVO9aXQuBq3MmhRANCAARdG7L0iVW/EPgqjJrSaV6B6w7tj5me\n"
    "15UeOwX1Y73w70eJhB3rurGypJGojsoUbAd3hVMY5aRtGdrLRrJJ+LI6\n"
    "-----END PRIVATE KEY-----\n";
// The agent the seeds are addressed to, and the "now" of every check.
constexpr const char* kAgentId = "11111111-1111-4111-8111-111111111111";
constexpr double kNow = 1700000000.0;

struct Keys {
  std::unique_ptr<muster::proto::Signer> signer;
  std::unique_ptr<muster::proto::Verifier> verifier;
};

const Keys& keys() {
  static const Keys k = [] {
    Keys made;
    auto signer = muster::proto::Signer::from_pem(kFuzzKeyPem);
    if (!signer) muster::fuzz::fail("cannot load the harness key", signer.error().message);
    auto verifier = muster::proto::Verifier::from_pems({(*signer)->public_pem()});
    if (!verifier) muster::fuzz::fail("cannot build the verifier", verifier.error().message);
    made.signer = std::move(*signer);
    made.verifier = std::make_unique<muster::proto::Verifier>(std::move(*verifier));
    return made;
  }();
  return k;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const bool resign = (data[0] & 1) != 0;
  auto task = muster::proto::decode_task(muster::fuzz::as_text(data + 1, size - 1));
  if (!task) return 0;
  const Keys& k = keys();
  if (resign && task->auth) {
    auto sig = k.signer->sign_base64(task->auth->statement);
    if (!sig) return 0;  // e.g. the random generator; not what is under test
    task->auth->signature = *sig;
    task->auth->key_id = k.signer->key_id();
  }
  const auto verdict = muster::proto::verify_task(*task, kAgentId, *k.verifier, kNow);
  if (!verdict) {
    if (verdict.error().message.empty()) muster::fuzz::fail("a refusal without a message", "");
    return 0;
  }
  // Accepted: it must be signed by the pinned key, match its statement, be
  // unexpired and lead from this agent's leaf to the signed root.
  if (!task->auth) muster::fuzz::fail("an unsigned task was accepted", muster::proto::encode(*task));
  auto statement = muster::proto::decode_statement(task->auth->statement);
  if (!statement) muster::fuzz::fail("a task with a malformed statement was accepted", task->auth->statement);
  if (statement->job_id != task->job_id || statement->command != task->command || statement->argv != task->argv ||
      statement->timeout_s != task->timeout_s || statement->output_quota != task->output_quota ||
      statement->as_root != task->as_root) {
    muster::fuzz::fail("a task that differs from its statement was accepted", muster::proto::encode(*task));
  }
  if (!(kNow <= statement->not_after)) muster::fuzz::fail("an expired task was accepted", task->auth->statement);
  const auto root = muster::proto::merkle_root_from_proof(muster::proto::task_leaf(kAgentId, task->task_id),
                                                          task->auth->proof);
  if (!root || *root != statement->merkle_root) {
    muster::fuzz::fail("a task not addressed to this agent was accepted", muster::proto::encode(*task));
  }
  return 0;
}
