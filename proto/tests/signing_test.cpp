#include "muster/proto/signing.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <system_error>

#include "muster/proto/uuid.hpp"

using namespace muster::proto;

namespace {

Task signed_task(Signer& signer, const std::vector<std::string>& agents, std::size_t index, std::vector<std::string>& task_ids,
                 double not_after) {
  std::vector<std::string> leaves;
  task_ids.clear();
  for (const auto& a : agents) {
    task_ids.push_back(new_uuid());
    leaves.push_back(task_leaf(a, task_ids.back()));
  }
  MerkleTree tree(leaves);
  Task t;
  t.job_id = new_uuid();
  t.task_id = task_ids[index];
  t.command = "echo signed";
  t.timeout_s = 60;
  JobStatement s{t.job_id, t.command, {}, t.timeout_s, t.output_quota, false, not_after, tree.root_hex()};
  const std::string text = encode(s);
  t.auth = TaskAuth{signer.key_id(), *signer.sign_base64(text), text, tree.proof(index)};
  return t;
}

}  // namespace

class SigningTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto signer = Signer::load_or_create(temp_key_path());
    ASSERT_TRUE(signer.ok()) << signer.error().message;
    signer_ = std::move(*signer);
    auto verifier = Verifier::from_pems({signer_->public_pem()});
    ASSERT_TRUE(verifier.ok());
    verifier_ = *verifier;
    for (int i = 0; i < 7; ++i) agents_.push_back(new_uuid());
  }
  void TearDown() override {
    for (const auto& dir : temp_dirs_) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
  // A key file path in a fresh directory of its own (portable: no mkdtemp),
  // removed after the test.
  std::string temp_key_path() {
    namespace fs = std::filesystem;
    for (int attempt = 0; attempt < 10; ++attempt) {
      const fs::path dir = fs::temp_directory_path() / ("muster-sign-" + random_hex(8));
      std::error_code ec;
      if (fs::create_directory(dir, ec)) {
        temp_dirs_.push_back(dir);
        return (dir / "key.pem").string();
      }
    }
    ADD_FAILURE() << "cannot create a directory in " << std::filesystem::temp_directory_path();
    return {};
  }
  std::unique_ptr<Signer> signer_;
  std::optional<Verifier> verifier_;
  std::vector<std::string> agents_;
  std::vector<std::string> task_ids_;
  std::vector<std::filesystem::path> temp_dirs_;
};

TEST_F(SigningTest, EveryAgentOfTheJobAcceptsItsOwnTask) {
  for (std::size_t i = 0; i < agents_.size(); ++i) {
    Task t = signed_task(*signer_, agents_, i, task_ids_, 4e9);
    auto back = decode_task(encode(t));  // survives the wire
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_TRUE(verify_task(*back, agents_[i], *verifier_, 1e9).ok()) << "agent " << i;
  }
}

TEST_F(SigningTest, RefusesUnsignedTamperedExpiredAndMisaddressed) {
  Task t = signed_task(*signer_, agents_, 2, task_ids_, 2e9);
  Task unsigned_task = t;
  unsigned_task.auth.reset();
  EXPECT_FALSE(verify_task(unsigned_task, agents_[2], *verifier_, 1e9).ok());

  Task tampered = t;
  tampered.command = "rm -rf /";
  EXPECT_FALSE(verify_task(tampered, agents_[2], *verifier_, 1e9).ok());

  Task root = t;
  root.as_root = true;
  EXPECT_FALSE(verify_task(root, agents_[2], *verifier_, 1e9).ok());

  EXPECT_FALSE(verify_task(t, agents_[2], *verifier_, 3e9).ok()) << "expired";
  EXPECT_FALSE(verify_task(t, agents_[3], *verifier_, 1e9).ok()) << "meant for another agent";

  Task other_id = t;
  other_id.task_id = new_uuid();
  EXPECT_FALSE(verify_task(other_id, agents_[2], *verifier_, 1e9).ok());

  Task bad_sig = t;
  bad_sig.auth->signature[10] = bad_sig.auth->signature[10] == '0' ? '1' : '0';
  EXPECT_FALSE(verify_task(bad_sig, agents_[2], *verifier_, 1e9).ok());

  Task bad_proof = t;
  bad_proof.auth->proof[5] = bad_proof.auth->proof[5] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(verify_task(bad_proof, agents_[2], *verifier_, 1e9).ok());

  Task junk_proof = t;
  junk_proof.auth->proof = "x";
  EXPECT_FALSE(verify_task(junk_proof, agents_[2], *verifier_, 1e9).ok());
  Task short_proof = t;
  short_proof.auth->proof.pop_back();
  EXPECT_FALSE(verify_task(short_proof, agents_[2], *verifier_, 1e9).ok());
  Task bad_side = t;
  bad_side.auth->proof[0] = 'x';
  EXPECT_FALSE(verify_task(bad_side, agents_[2], *verifier_, 1e9).ok());
}

// On the wire a signed task is its id and its auth: the command and its
// options exist only inside the signed statement, and a task that sends them
// beside it is refused before any check.
TEST_F(SigningTest, ASignedTaskCarriesItsCommandOnlyInTheStatement) {
  Task t = signed_task(*signer_, agents_, 3, task_ids_, 2e9);
  t.as_root = false;
  const std::string text = encode(t);
  EXPECT_EQ(text.find("\"command\":\"echo"), std::string::npos) << text;
  EXPECT_EQ(text.find("\"timeout_s\""), std::string::npos) << text;
  auto back = decode_task(text);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(back->job_id, t.job_id);
  EXPECT_EQ(back->command, std::optional<std::string>("echo signed"));
  EXPECT_EQ(back->timeout_s, 60);
  EXPECT_EQ(back->output_quota, t.output_quota);
  EXPECT_FALSE(back->as_root);
  EXPECT_TRUE(verify_task(*back, agents_[3], *verifier_, 1e9).ok());

  for (const char* extra : {"\"command\":\"rm -rf /\"", "\"job_id\":\"x\"", "\"as_root\":true", "\"timeout_s\":1"}) {
    std::string sent = text;
    sent.insert(sent.size() - 1, std::string(",") + extra);
    auto refused = decode_task(sent);
    ASSERT_FALSE(refused.ok()) << sent;
    EXPECT_EQ(refused.error().code, ErrorCode::unknown_field) << refused.error().message;
  }
  // A statement that does not decode makes the task undecodable.
  Task broken = t;
  broken.auth->statement = "{\"v\":1}";
  auto refused = decode_task(encode(broken));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("task.auth.statement"), std::string::npos) << refused.error().message;
}

// The proof costs 45 characters per level of the tree, and nothing else
// grows with the size of the job: at 10,000 agents a task stays near 1 KB.
TEST_F(SigningTest, TaskSizeAtTenThousandAgents) {
  std::vector<std::string> many;
  for (int i = 0; i < 10000; ++i) many.push_back(new_uuid());
  Task t = signed_task(*signer_, many, 4321, task_ids_, 2e9);
  EXPECT_EQ(t.auth->proof.size(), 14u * kProofStepChars);
  EXPECT_LT(encode(t).size(), 1150u) << encode(t);  // 1,108 here; hex and the fields sent twice made it ~1,750
  auto back = decode_task(encode(t));
  ASSERT_TRUE(back.ok());
  EXPECT_TRUE(verify_task(*back, many[4321], *verifier_, 1e9).ok());
}

// The verifier remembers verified signatures (a job's tasks share one); what
// it remembers must never let anything else through.
TEST_F(SigningTest, ARememberedSignatureStillRefusesEverythingElse) {
  Task t = signed_task(*signer_, agents_, 4, task_ids_, 2e9);
  ASSERT_TRUE(verify_task(t, agents_[4], *verifier_, 1e9).ok());
  ASSERT_TRUE(verify_task(t, agents_[4], *verifier_, 1e9).ok()) << "remembered";

  Task bad_sig = t;
  bad_sig.auth->signature[12] = bad_sig.auth->signature[12] == '0' ? '1' : '0';
  EXPECT_FALSE(verify_task(bad_sig, agents_[4], *verifier_, 1e9).ok());
  Task tampered = t;
  tampered.auth->statement += " ";
  EXPECT_FALSE(verify_task(tampered, agents_[4], *verifier_, 1e9).ok());
  EXPECT_FALSE(verify_task(t, agents_[5], *verifier_, 1e9).ok()) << "meant for another agent";
  EXPECT_FALSE(verify_task(t, agents_[4], *verifier_, 3e9).ok()) << "expired";

  // Another pinned key does not match what was remembered for this one.
  auto stranger = Signer::load_or_create(temp_key_path());
  ASSERT_TRUE(stranger.ok());
  auto other = Verifier::from_pems({(*stranger)->public_pem()});
  ASSERT_TRUE(other.ok());
  Task relabelled = t;
  relabelled.auth->key_id = (*stranger)->key_id();
  EXPECT_FALSE(verify_task(relabelled, agents_[4], *other, 1e9).ok());
}

TEST_F(SigningTest, RefusesAKeyThatIsNotPinned) {
  auto stranger = Signer::load_or_create(temp_key_path());
  ASSERT_TRUE(stranger.ok());
  Task t = signed_task(**stranger, agents_, 0, task_ids_, 2e9);
  auto checked = verify_task(t, agents_[0], *verifier_, 1e9);
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("not pinned"), std::string::npos);
  // A stranger's signature presented under the pinned key's id fails too.
  t.auth->key_id = signer_->key_id();
  EXPECT_FALSE(verify_task(t, agents_[0], *verifier_, 1e9).ok());
}

TEST_F(SigningTest, TwoPinnedKeysDuringARollover) {
  auto next = Signer::load_or_create(temp_key_path());
  ASSERT_TRUE(next.ok());
  auto both = Verifier::from_pems({signer_->public_pem(), (*next)->public_pem()});
  ASSERT_TRUE(both.ok());
  EXPECT_TRUE(verify_task(signed_task(*signer_, agents_, 1, task_ids_, 2e9), agents_[1], *both, 1e9).ok());
  EXPECT_TRUE(verify_task(signed_task(**next, agents_, 1, task_ids_, 2e9), agents_[1], *both, 1e9).ok());
}

TEST_F(SigningTest, KeyFileIsReusedAndPrivate) {
  const std::string path = temp_key_path();
  auto first = Signer::load_or_create(path);
  auto second = Signer::load_or_create(path);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ((*first)->key_id(), (*second)->key_id());
  EXPECT_EQ((*first)->key_id().size(), 16u);
}

TEST(Merkle, SingleLeafAndOddCounts) {
  for (std::size_t n : {1u, 2u, 3u, 5u, 8u, 13u, 100u}) {
    std::vector<std::string> leaves;
    for (std::size_t i = 0; i < n; ++i) leaves.push_back(task_leaf(new_uuid(), new_uuid()));
    MerkleTree tree(leaves);
    for (std::size_t i = 0; i < n; ++i) {
      EXPECT_EQ(merkle_root_from_proof(leaves[i], tree.proof(i)), tree.root_hex()) << n << " leaves, leaf " << i;
    }
  }
}

TEST(Statement, DecoderIsStrict) {
  EXPECT_FALSE(decode_statement("{}").ok());
  EXPECT_FALSE(decode_statement("not json").ok());
  JobStatement s{new_uuid(), std::string("true"), {}, 60, 65536, false, 2e9, std::string(64, 'a')};
  EXPECT_TRUE(decode_statement(encode(s)).ok());
  s.merkle_root = "zz";
  EXPECT_FALSE(decode_statement(encode(s)).ok());
}
