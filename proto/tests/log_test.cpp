// The shared logger: text and JSON lines, levels, and repeats counted
// instead of written.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "muster/proto/json.hpp"
#include "muster/proto/log.hpp"

namespace muster::log {
namespace {

std::vector<std::string>& captured() {
  static std::vector<std::string> lines;
  return lines;
}
void capture(const std::string& line) { captured().push_back(line); }

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    captured().clear();
    set_sink(capture);
    set_program("muster-test");
    set_level(Level::info);
    set_format(Format::text);
  }
  void TearDown() override {
    set_sink(nullptr);
    set_format(Format::text);
  }
};

TEST_F(LogTest, TextLineHasTimeProgramLevelComponentAndFields) {
  EXPECT_EQ(format_line(Level::warn, "master", "store down", {{"shard", "s0"}}, "T"),
            "T muster-test warn master: store down shard=s0\n");
  info("hub", "hello");
  ASSERT_EQ(captured().size(), 1u);
  const std::string& line = captured()[0];
  EXPECT_EQ(line.size(), std::string("2026-12-02T12:00:00.000Z muster-test info hub: hello\n").size()) << line;
  EXPECT_EQ(line[4], '-');
  EXPECT_EQ(line[10], 'T');
  EXPECT_EQ(line[23], 'Z');
}

TEST_F(LogTest, JsonLineIsOneObject) {
  set_format(Format::json);
  const std::string line = format_line(Level::error, "api", "bad \"thing\"\n", {{"job_id", "j1"}}, "T");
  ASSERT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line, newlines escaped";
  auto parsed = proto::parse_object(line.substr(0, line.size() - 1));
  ASSERT_TRUE(parsed.ok());
  std::string time, level, program, component, message, job;
  proto::FieldReader(parsed->get(), "")
      .required("time", time, 64)
      .required("level", level, 16)
      .required("program", program, 64)
      .required("component", component, 64)
      .required("message", message, 256)
      .required("job_id", job, 64);
  EXPECT_EQ(level, "error");
  EXPECT_EQ(program, "muster-test");
  EXPECT_EQ(component, "api");
  EXPECT_EQ(message, "bad \"thing\"\n");
  EXPECT_EQ(job, "j1");
}

TEST_F(LogTest, LevelsBelowTheSetOneAreDropped) {
  debug("x", "not shown");
  EXPECT_TRUE(captured().empty());
  set_level(Level::debug);
  debug("x", "shown");
  EXPECT_EQ(captured().size(), 1u);
  Level parsed{};
  EXPECT_TRUE(parse_level("warn", parsed));
  EXPECT_EQ(parsed, Level::warn);
  EXPECT_FALSE(parse_level("loud", parsed));
  Format f{};
  EXPECT_TRUE(parse_format("json", f));
  EXPECT_FALSE(parse_format("xml", f));
}

TEST_F(LogTest, RepeatsAreCountedNotWritten) {
  for (int i = 0; i < 5; ++i) warn("master", "store: connection refused; retrying");
  ASSERT_EQ(captured().size(), 1u);
  info("master", "store reachable again");
  ASSERT_EQ(captured().size(), 3u);
  EXPECT_NE(captured()[1].find("store: connection refused; retrying (repeated 4 times) repeated=4"), std::string::npos)
      << captured()[1];
  EXPECT_NE(captured()[1].find(" warn master: "), std::string::npos);
  EXPECT_NE(captured()[2].find("store reachable again"), std::string::npos);
}

}  // namespace
}  // namespace muster::log
