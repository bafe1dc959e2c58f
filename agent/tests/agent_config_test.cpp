#include "agent_config.hpp"

#include <gtest/gtest.h>

namespace muster::agent {
namespace {

TEST(AgentConfig, ReadsEveryKey) {
  auto config = parse_agent_config(
      "# comment\n; comment\n\nhub_url = https://hub.example:8443\nca_file=/etc/muster/hub-ca.pem\n"
      "enroll_token = tok123\nlabels = env=prod, rack=r12\nstate_dir = /srv/agent\ntask_user = muster\n"
      "log_level = debug\n",
      "agent.conf");
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->hub_url, "https://hub.example:8443");
  EXPECT_EQ(config->ca_file, "/etc/muster/hub-ca.pem");
  EXPECT_EQ(config->enroll_token, "tok123");
  EXPECT_EQ(config->labels.at("env"), "prod");
  EXPECT_EQ(config->labels.at("rack"), "r12");
  EXPECT_EQ(config->state_dir, "/srv/agent");
  EXPECT_EQ(config->task_user, "muster");
  EXPECT_EQ(config->log_level, "debug");
}

TEST(AgentConfig, RefusesUnknownKeysWithTheLine) {
  auto config = parse_agent_config("hub_url = x\nhub_ulr = y\n", "agent.conf");
  ASSERT_FALSE(config);
  EXPECT_NE(config.error().message.find("agent.conf:2: unknown key 'hub_ulr'"), std::string::npos)
      << config.error().message;
}

TEST(AgentConfig, RefusesBadLabelsAndLinesWithoutValue) {
  EXPECT_FALSE(parse_agent_config("labels = env\n", "c"));
  EXPECT_FALSE(parse_agent_config("labels = bad key=v\n", "c"));
  EXPECT_FALSE(parse_agent_config("hub_url\n", "c"));
}

TEST(AgentConfig, ForgettingTheTokenKeepsEveryOtherLine) {
  const std::string text = "# hub\nhub_url = https://h\nenroll_token = secret\nlabels = a=b\n";
  const std::string out = without_enroll_token(text, "used by 1234");
  EXPECT_EQ(out, "# hub\nhub_url = https://h\n# used by 1234\nenroll_token =\nlabels = a=b\n");
  auto config = parse_agent_config(out, "c");
  ASSERT_TRUE(config);
  EXPECT_TRUE(config->enroll_token.empty());
  EXPECT_EQ(config->hub_url, "https://h");
}

}  // namespace
}  // namespace muster::agent
