#include "run_view.hpp"

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>

#include "muster/proto/json.hpp"

namespace muster::cli {
namespace {

// A FILE* whose text the test reads back.
class Capture {
 public:
  Capture() : file_(open_memstream(&data_, &size_)) {}
  ~Capture() {
    std::fclose(file_);
    std::free(data_);
  }
  std::FILE* file() { return file_; }
  std::string text() {
    std::fflush(file_);
    return std::string(data_, size_);
  }

 private:
  char* data_ = nullptr;
  std::size_t size_ = 0;
  std::FILE* file_;
};

JobEvent state(const std::string& agent, const std::string& s) {
  JobEvent e;
  e.kind = JobEvent::Kind::state;
  e.agent_id = agent;
  e.state = s;
  return e;
}

JobEvent output(const std::string& agent, const std::string& stream, std::int64_t seq, const std::string& data) {
  JobEvent e;
  e.kind = JobEvent::Kind::output;
  e.agent_id = agent;
  e.stream = stream;
  e.seq = seq;
  e.data = data;
  return e;
}

proto::JsonPtr job(const char* text) { return std::move(*proto::parse_object(text)); }

void play(RunView& view) {
  view.submitted("j1");
  view.event(state("a", "running"));
  view.event(output("a", "stdout", 0, "one\ntwo"));
  view.event(output("a", "stderr", 1, "warn\n"));
  view.event(output("a", "stdout", 0, "one\ntwo"));  // replayed after a reconnect: ignored
  view.event(state("a", "succeeded"));
  view.event(state("b", "failed"));
  view.event(state("b", "failed"));  // replayed: printed once
}

TEST(RunView, PlainLinesPrefixedByHostWithoutEscapes) {
  Capture out, err;
  RunView view(ViewMode::plain, {{"a", "web-1"}, {"b", "web-2"}}, 2, out.file(), err.file());
  play(view);
  view.finish(job(R"({"state":"failed","total":2,"counts":{"succeeded":1,"failed":1}})").get());
  const std::string text = out.text();
  EXPECT_EQ(text.find('\033'), std::string::npos) << text;
  EXPECT_EQ(text.substr(0, text.find("2 tasks:")),
            "job j1: 2 tasks\n"
            "web-1: one\n"
            "web-1: two\n"
            "web-2: task failed\n");
  EXPECT_NE(text.find("2 tasks: 1 succeeded, 1 failed in "), std::string::npos) << text;
  EXPECT_NE(text.find("not succeeded: web-2 (details: muster job j1)\njob j1 failed\n"), std::string::npos) << text;
  EXPECT_EQ(err.text(), "web-1: warn\n");
}

TEST(RunView, ShowFailedPrintsOnlyTheTasksThatDidNotSucceed) {
  Capture out, err;
  RunView view(ViewMode::plain, {{"a", "web-1"}, {"b", "web-2"}}, 2, out.file(), err.file());
  view.show(ShowTasks::failed);
  play(view);
  view.finish(job(R"({"state":"failed","total":2,"counts":{"succeeded":1,"failed":1}})").get());
  const std::string text = out.text();
  EXPECT_EQ(text.find("web-1"), std::string::npos) << text;
  EXPECT_NE(text.find("web-2: task failed\n"), std::string::npos) << text;
  EXPECT_EQ(err.text(), "");
}

TEST(RunView, ShowNoneStillSummarizes) {
  Capture out, err;
  RunView view(ViewMode::plain, {{"a", "web-1"}, {"b", "web-2"}}, 2, out.file(), err.file());
  view.show(ShowTasks::none);
  play(view);
  view.finish(job(R"({"state":"failed","total":2,"counts":{"succeeded":1,"failed":1}})").get());
  const std::string text = out.text();
  EXPECT_EQ(text.substr(0, text.find('\n') + 1), "job j1: 2 tasks\n");
  EXPECT_NE(text.find("\n2 tasks: 1 succeeded, 1 failed in "), std::string::npos) << text;
  EXPECT_NE(text.find("not succeeded: web-2"), std::string::npos) << text;
  EXPECT_EQ(text.find("web-2: "), std::string::npos) << text;
}

TEST(RunView, TerminalRedrawsOneProgressLineThenTheSummary) {
  setenv("NO_COLOR", "1", 1);
  Capture out, err;
  RunView view(ViewMode::terminal, {{"a", "web-1"}, {"b", "web-2"}}, 2, out.file(), err.file());
  play(view);
  view.finish(job(R"({"state":"failed","total":2,"counts":{"succeeded":1,"failed":1}})").get());
  const std::string text = out.text();
  EXPECT_NE(text.find("\r\033[K0/2 done  0 ok  0 failed  0 running"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[K1/2 done  1 ok  0 failed  0 running"), std::string::npos) << text;
  // The progress line is erased before each task's lines and before the summary.
  EXPECT_NE(text.find("\r\033[Kweb-1: one\n"), std::string::npos) << text;
  EXPECT_NE(text.find("\r\033[K2 tasks: 1 succeeded, 1 failed"), std::string::npos) << text;
  EXPECT_EQ(text.find("done", text.find("2 tasks:")), std::string::npos) << "no progress after the summary";
}

TEST(RunView, JsonLinesForEveryEvent) {
  Capture out, err;
  RunView view(ViewMode::json, {{"a", "web-1"}}, 2, out.file(), err.file());
  play(view);
  view.finish(job(R"({"state":"failed"})").get());
  std::vector<std::string> kinds;
  const std::string text = out.text();
  for (std::size_t start = 0, end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    auto line = proto::parse_object(text.substr(start, end - start));
    ASSERT_TRUE(line) << text;
    kinds.push_back(cJSON_GetObjectItemCaseSensitive(line->get(), "event")->valuestring);
  }
  // Replayed events are not repeated.
  EXPECT_EQ(kinds, (std::vector<std::string>{"submitted", "state", "output", "output", "state", "state", "end"}));
  EXPECT_NE(text.find(R"("hostname":"b")"), std::string::npos) << "an unknown host shows its id's start";
}

}  // namespace
}  // namespace muster::cli
