#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "journal.hpp"
#include "muster/proto/messages.hpp"
#include "muster/proto/uuid.hpp"
#include "spool.hpp"
#include "state.hpp"

namespace proto = muster::proto;
using muster::agent::AgentState;
using muster::agent::Journal;
using muster::agent::Spool;
using muster::agent::StatePaths;

namespace {

// A fresh directory under /tmp, removed (with its contents) afterwards.
class TempDir {
 public:
  TempDir() {
    char tmpl[] = "/tmp/muster-agent-test-XXXXXX";
    const char* made = ::mkdtemp(tmpl);
    if (made != nullptr) path_ = made;
  }
  ~TempDir() { remove_tree(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  static void remove_tree(const std::string& path) {
    if (path.empty()) return;
    if (DIR* d = ::opendir(path.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        const std::string name = e->d_name;
        if (name == "." || name == "..") continue;
        const std::string child = path + "/" + name;
        struct stat st {};
        if (::lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) {
          remove_tree(child);
        } else {
          ::unlink(child.c_str());
        }
      }
      ::closedir(d);
    }
    ::rmdir(path.c_str());
  }
  std::string path_;
};

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << content;
}

bool exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

unsigned mode_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return 0xFFFFu;
  return static_cast<unsigned>(st.st_mode & 07777);
}

std::vector<std::string> names_in(const std::string& dir) {
  std::vector<std::string> names;
  if (DIR* d = ::opendir(dir.c_str())) {
    while (const dirent* e = ::readdir(d)) {
      const std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(name);
    }
    ::closedir(d);
  }
  return names;
}

proto::TaskResult sample_result() {
  proto::TaskResult r;
  r.task_id = proto::new_uuid();
  r.job_id = proto::new_uuid();
  r.state = proto::TaskOutcome::failed;
  r.exit_code = 3;
  r.error = std::nullopt;
  r.stdout_text = "line 1\nline 2 \xC3\xA9\n";
  r.stderr_text = "oops \"quoted\" \\ back\n";
  r.stdout_dropped = 12;
  r.stderr_dropped = 0;
  r.started_at = 1764200000.25;
  r.finished_at = 1764200001.5;
  r.duration_ms = 1250;
  return r;
}

}  // namespace

// ---------------------------------------------------------------- Journal

TEST(Journal, MissingFileIsEmpty) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  Journal j(dir.file("journal"));
  ASSERT_TRUE(j.load().ok());
  EXPECT_FALSE(j.contains(proto::new_uuid()));
  EXPECT_FALSE(exists(dir.file("journal")));  // loading does not create it
}

const std::string kJob = "0b8c3c1e-4f5a-4d2b-9a8e-1c2d3e4f5a6b";

TEST(Journal, StartedWithoutDoneIsInterrupted) {
  TempDir dir;
  const std::string a = proto::new_uuid();
  const std::string b = proto::new_uuid();
  {
    Journal j(dir.file("journal"));
    ASSERT_TRUE(j.record_start(a, kJob).ok());
    ASSERT_TRUE(j.record_start(b, kJob).ok());
    ASSERT_TRUE(j.record_done(a).ok());
  }
  Journal fresh(dir.file("journal"));
  ASSERT_TRUE(fresh.load().ok());
  const auto interrupted = fresh.interrupted();
  ASSERT_EQ(interrupted.size(), 1u);
  EXPECT_EQ(interrupted[0].task_id, b);
  EXPECT_EQ(interrupted[0].job_id, kJob);
  EXPECT_TRUE(fresh.contains(a));
}

TEST(Journal, InterruptedTaskKeepsItsTreeRecordAndStart) {
  TempDir dir;
  const std::string a = proto::new_uuid();
  const std::string b = proto::new_uuid();
  {
    Journal j(dir.file("journal"));
    ASSERT_TRUE(j.record_start(a, kJob).ok());
    ASSERT_TRUE(j.record_tree(a, "4242:987654", 1796000000.25).ok());
    ASSERT_TRUE(j.record_start(b, kJob).ok());
    ASSERT_TRUE(j.record_tree(b, "", 1796000001).ok());  // no tree to find later: nothing written
  }
  Journal fresh(dir.file("journal"));
  ASSERT_TRUE(fresh.load().ok());
  auto interrupted = fresh.interrupted();
  ASSERT_EQ(interrupted.size(), 2u);
  if (interrupted[0].task_id != a) std::swap(interrupted[0], interrupted[1]);
  EXPECT_EQ(interrupted[0].tree, "4242:987654");
  EXPECT_DOUBLE_EQ(interrupted[0].started_at, 1796000000.25);
  EXPECT_EQ(interrupted[1].tree, "");
  EXPECT_EQ(interrupted[1].started_at, 0);
}

TEST(Journal, AMalformedTreeLineIsNoStart) {
  TempDir dir;
  const std::string a = proto::new_uuid();
  {
    std::ofstream f(dir.file("journal"));
    f << "start " << a << " " << kJob << "\ntree " << a << "\ntree " << a << " 1:2 notatime\n";
  }
  Journal j(dir.file("journal"));
  ASSERT_TRUE(j.load().ok());
  const auto interrupted = j.interrupted();
  ASSERT_EQ(interrupted.size(), 1u);
  EXPECT_EQ(interrupted[0].tree, "1:2");
  EXPECT_EQ(interrupted[0].started_at, 0);
}

TEST(Journal, RecordedIdsSurviveARestart) {
  TempDir dir;
  const std::string a = proto::new_uuid();
  const std::string b = proto::new_uuid();
  {
    Journal j(dir.file("journal"));
    ASSERT_TRUE(j.load().ok());
    ASSERT_TRUE(j.record_start(a, kJob).ok());
    ASSERT_TRUE(j.record_start(b, kJob).ok());
    EXPECT_TRUE(j.contains(a));
    EXPECT_TRUE(j.contains(b));
  }
  EXPECT_EQ(read_all(dir.file("journal")), "start " + a + " " + kJob + "\nstart " + b + " " + kJob + "\n");
  EXPECT_EQ(mode_of(dir.file("journal")), 0600u);
  Journal fresh(dir.file("journal"));
  EXPECT_FALSE(fresh.contains(a));  // nothing before load()
  ASSERT_TRUE(fresh.load().ok());
  EXPECT_TRUE(fresh.contains(a));
  EXPECT_TRUE(fresh.contains(b));
  EXPECT_FALSE(fresh.contains(proto::new_uuid()));
}

TEST(Journal, RecordAppendsToAnExistingJournal) {
  TempDir dir;
  const std::string a = proto::new_uuid();
  const std::string b = proto::new_uuid();
  {
    Journal j(dir.file("journal"));
    ASSERT_TRUE(j.record_start(a, kJob).ok());
  }
  {
    Journal j(dir.file("journal"));
    ASSERT_TRUE(j.load().ok());
    ASSERT_TRUE(j.record_start(b, kJob).ok());
  }
  Journal fresh(dir.file("journal"));
  ASSERT_TRUE(fresh.load().ok());
  EXPECT_TRUE(fresh.contains(a));
  EXPECT_TRUE(fresh.contains(b));
}

TEST(Journal, TornLastLineStillCounts) {
  TempDir dir;
  const std::string a = proto::new_uuid();
  const std::string b = proto::new_uuid();
  write_all(dir.file("journal"), "start " + a + " " + kJob + "\nstart " + b);  // crash mid-line
  Journal j(dir.file("journal"));
  ASSERT_TRUE(j.load().ok());
  EXPECT_TRUE(j.contains(a));
  EXPECT_TRUE(j.contains(b));
  EXPECT_FALSE(j.contains(b.substr(0, 10)));
}

TEST(Journal, EmptyLinesAreIgnored) {
  TempDir dir;
  const std::string a = proto::new_uuid();
  write_all(dir.file("journal"), "\n\nstart " + a + " " + kJob + "\n\n");
  Journal j(dir.file("journal"));
  ASSERT_TRUE(j.load().ok());
  EXPECT_TRUE(j.contains(a));
  EXPECT_FALSE(j.contains(""));
}

TEST(Journal, RecordFailsWhenTheDirectoryIsMissing) {
  TempDir dir;
  Journal j(dir.file("no-such-dir/journal"));
  const std::string a = proto::new_uuid();
  EXPECT_FALSE(j.record_start(a, kJob).ok());
  EXPECT_FALSE(j.contains(a));  // not recorded means not remembered
}

// ---------------------------------------------------------------- Spool

TEST(Spool, LoadCreatesAPrivateDirectory) {
  TempDir dir;
  Spool s(dir.file("spool"));
  ASSERT_TRUE(s.load().ok());
  EXPECT_EQ(mode_of(dir.file("spool")), 0700u);
  EXPECT_TRUE(s.entries().empty());
}

TEST(Spool, PutSurvivesARestartWithIdenticalPayload) {
  TempDir dir;
  const std::string spool_dir = dir.file("spool");
  const auto result = sample_result();
  std::string payload;
  {
    Spool s(spool_dir);
    ASSERT_TRUE(s.load().ok());
    ASSERT_TRUE(s.put(result).ok());
    ASSERT_TRUE(s.contains(result.task_id));
    payload = s.entries().at(result.task_id).payload;
    EXPECT_EQ(payload, proto::encode(result));
  }
  const std::string file = spool_dir + "/" + result.task_id + ".json";
  ASSERT_TRUE(exists(file));
  EXPECT_EQ(read_all(file), payload);
  EXPECT_EQ(mode_of(file), 0600u);
  EXPECT_FALSE(exists(file + ".tmp"));

  Spool fresh(spool_dir);
  ASSERT_TRUE(fresh.load().ok());
  ASSERT_EQ(fresh.entries().size(), 1u);
  ASSERT_TRUE(fresh.contains(result.task_id));
  EXPECT_EQ(fresh.entries().at(result.task_id).payload, payload);
  auto decoded = proto::decode_task_result(fresh.entries().at(result.task_id).payload);
  ASSERT_TRUE(decoded.ok()) << decoded.error().message;
  EXPECT_EQ(decoded->task_id, result.task_id);
  EXPECT_EQ(decoded->job_id, result.job_id);
  EXPECT_EQ(decoded->stdout_text, result.stdout_text);
  EXPECT_EQ(decoded->stderr_text, result.stderr_text);
  EXPECT_EQ(decoded->exit_code, result.exit_code);
  EXPECT_EQ(decoded->stdout_dropped, result.stdout_dropped);
}

TEST(Spool, PutOverwritesTheSameTask) {
  TempDir dir;
  Spool s(dir.file("spool"));
  ASSERT_TRUE(s.load().ok());
  auto result = sample_result();
  ASSERT_TRUE(s.put(result).ok());
  result.stdout_text = "second";
  ASSERT_TRUE(s.put(result).ok());
  EXPECT_EQ(s.entries().size(), 1u);
  EXPECT_EQ(names_in(dir.file("spool")), std::vector<std::string>{result.task_id + ".json"});
  Spool fresh(dir.file("spool"));
  ASSERT_TRUE(fresh.load().ok());
  auto decoded = proto::decode_task_result(fresh.entries().at(result.task_id).payload);
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->stdout_text, "second");
}

TEST(Spool, AcknowledgeRemovesTheFile) {
  TempDir dir;
  const std::string spool_dir = dir.file("spool");
  const auto keep = sample_result();
  const auto done = sample_result();
  {
    Spool s(spool_dir);
    ASSERT_TRUE(s.load().ok());
    ASSERT_TRUE(s.put(keep).ok());
    ASSERT_TRUE(s.put(done).ok());
    s.acknowledge(done.task_id);
    EXPECT_FALSE(s.contains(done.task_id));
    EXPECT_TRUE(s.contains(keep.task_id));
    EXPECT_FALSE(exists(spool_dir + "/" + done.task_id + ".json"));
    EXPECT_TRUE(exists(spool_dir + "/" + keep.task_id + ".json"));
    s.acknowledge(done.task_id);           // twice: harmless
    s.acknowledge(proto::new_uuid());      // unknown: harmless
    EXPECT_TRUE(s.contains(keep.task_id));
  }
  Spool fresh(spool_dir);
  ASSERT_TRUE(fresh.load().ok());
  EXPECT_EQ(fresh.entries().size(), 1u);
  EXPECT_TRUE(fresh.contains(keep.task_id));
  EXPECT_FALSE(fresh.contains(done.task_id));
}

TEST(Spool, LeftoverTempAndCorruptFilesAreRemovedOnLoad) {
  TempDir dir;
  const std::string spool_dir = dir.file("spool");
  const auto good = sample_result();
  {
    Spool s(spool_dir);
    ASSERT_TRUE(s.load().ok());
    ASSERT_TRUE(s.put(good).ok());
  }
  const auto half_written = sample_result();
  const std::string tmp = spool_dir + "/" + half_written.task_id + ".json.tmp";
  write_all(tmp, proto::encode(half_written));  // complete content, but never renamed
  const std::string corrupt_id = proto::new_uuid();
  const std::string corrupt = spool_dir + "/" + corrupt_id + ".json";
  write_all(corrupt, "{\"v\":1,\"task_id\":\"" + corrupt_id + "\",\"sta");
  const std::string not_a_result = spool_dir + "/" + proto::new_uuid() + ".json";
  write_all(not_a_result, "{\"v\":1}");

  Spool fresh(spool_dir);
  ASSERT_TRUE(fresh.load().ok());
  EXPECT_EQ(fresh.entries().size(), 1u);
  EXPECT_TRUE(fresh.contains(good.task_id));
  EXPECT_FALSE(fresh.contains(half_written.task_id));
  EXPECT_FALSE(fresh.contains(corrupt_id));
  EXPECT_FALSE(exists(tmp));
  EXPECT_FALSE(exists(corrupt));
  EXPECT_FALSE(exists(not_a_result));
  EXPECT_EQ(names_in(spool_dir), std::vector<std::string>{good.task_id + ".json"});
}

TEST(Spool, PutFailsWhenTheDirectoryIsMissing) {
  TempDir dir;
  Spool s(dir.file("never-created"));
  const auto result = sample_result();
  EXPECT_FALSE(s.put(result).ok());
  EXPECT_FALSE(s.contains(result.task_id));
}

// A result whose error message is long (the runner builds it from argv[0],
// which a task may make up to 64 KiB long) must still be deliverable: what the
// spool stores has to pass the strict decoder, or the result is lost.
// DISABLED: fails against the current agent (Spool::put accepts it, Spool::load
// then drops it as unreadable: "result.error is longer than 4096 bytes").
TEST(Spool, ResultWithLongErrorIsStillDecodable) {
  TempDir dir;
  auto result = sample_result();
  result.error = "cannot execute " + std::string(5000, 'x') + ": File name too long";
  Spool s(dir.file("spool"));
  ASSERT_TRUE(s.load().ok());
  ASSERT_TRUE(s.put(result).ok());
  Spool fresh(dir.file("spool"));
  ASSERT_TRUE(fresh.load().ok());
  EXPECT_TRUE(fresh.contains(result.task_id)) << "the spooled result was dropped as unreadable on reload";
}

// ---------------------------------------------------------------- State

namespace {

AgentState sample_state() {
  AgentState s;
  s.enrollment.uuid = proto::new_uuid();
  s.enrollment.jid = s.enrollment.uuid + "@muster.example";
  s.enrollment.password = "p@ss\"word\\";
  s.enrollment.xmpp_host = "xmpp.example";
  s.enrollment.xmpp_port = 5223;
  s.enrollment.xmpp_domain = "muster.example";
  s.enrollment.ca_pem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  s.enrollment.master_jid = "master@muster.example/muster";
  s.enrollment.signing_keys = {"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"};
  s.hub_url = "https://hub.example:8443";
  s.labels = {{"role", "web"}, {"zone", "eu-1"}};
  return s;
}

}  // namespace

TEST(State, RoundTrip) {
  TempDir dir;
  const StatePaths paths(dir.file("state"));
  const AgentState saved = sample_state();
  ASSERT_TRUE(muster::agent::save_state(paths, saved).ok());
  auto loaded = muster::agent::load_state(paths);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->enrollment.uuid, saved.enrollment.uuid);
  EXPECT_EQ(loaded->enrollment.jid, saved.enrollment.jid);
  EXPECT_EQ(loaded->enrollment.password, saved.enrollment.password);
  EXPECT_EQ(loaded->enrollment.xmpp_host, saved.enrollment.xmpp_host);
  EXPECT_EQ(loaded->enrollment.xmpp_port, saved.enrollment.xmpp_port);
  EXPECT_EQ(loaded->enrollment.xmpp_domain, saved.enrollment.xmpp_domain);
  EXPECT_EQ(loaded->enrollment.ca_pem, saved.enrollment.ca_pem);
  EXPECT_EQ(loaded->enrollment.master_jid, saved.enrollment.master_jid);
  EXPECT_EQ(loaded->hub_url, saved.hub_url);
  EXPECT_EQ(loaded->labels, saved.labels);
  EXPECT_EQ(read_all(paths.xmpp_ca_file()), saved.enrollment.ca_pem);
}

TEST(State, FilesAreWrittenWithTightPermissions) {
  TempDir dir;
  const StatePaths paths(dir.file("state"));
  ASSERT_TRUE(muster::agent::save_state(paths, sample_state()).ok());
  EXPECT_EQ(mode_of(paths.dir), 0700u);
  EXPECT_EQ(mode_of(paths.state_file()), 0600u);  // holds the XMPP password
  EXPECT_FALSE(exists(paths.state_file() + ".tmp"));
  EXPECT_FALSE(exists(paths.xmpp_ca_file() + ".tmp"));
}

TEST(State, SavingAgainReplacesTheState) {
  TempDir dir;
  const StatePaths paths(dir.file("state"));
  AgentState s = sample_state();
  ASSERT_TRUE(muster::agent::save_state(paths, s).ok());
  s.hub_url = "https://other.example";
  s.labels.clear();
  ASSERT_TRUE(muster::agent::save_state(paths, s).ok());
  EXPECT_EQ(mode_of(paths.state_file()), 0600u);
  auto loaded = muster::agent::load_state(paths);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  EXPECT_EQ(loaded->hub_url, "https://other.example");
  EXPECT_TRUE(loaded->labels.empty());
}

TEST(State, MissingOrCorruptStateIsAnError) {
  TempDir dir;
  const StatePaths paths(dir.file("state"));
  EXPECT_FALSE(muster::agent::load_state(paths).ok());
  ASSERT_TRUE(muster::agent::save_state(paths, sample_state()).ok());
  write_all(paths.state_file(), "{\"uuid\":");
  auto loaded = muster::agent::load_state(paths);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().message.find("agent.json"), std::string::npos) << loaded.error().message;
}
