#include "run_request.hpp"

#include <gtest/gtest.h>

#include "errors.hpp"

namespace muster::cli {
namespace {

RunRequest parse(const std::vector<std::string>& args) {
  return parse_run_request(parse_options(run_option_specs(), args));
}

std::string body(const std::vector<std::string>& args) { return job_request_json(parse(args)); }

TEST(RunRequest, AllTargetsEveryAgent) {
  EXPECT_EQ(body({"--all", "--", "uptime"}), R"({"command":"uptime","targets":{"all":true}})");
}

TEST(RunRequest, JoinsTheCommandWordsLikeSsh) {
  EXPECT_EQ(parse({"--all", "--", "echo", "$HOME", "--all"}).command, "echo $HOME --all");
}

TEST(RunRequest, CombinesTargetsAndLimits) {
  EXPECT_EQ(body({"--label", "role=web", "--label", "env=prod", "--region", "eu", "--agent", "x", "--concurrency",
                  "10", "--max-failures", "5%", "--timeout", "60", "--deadline", "600", "--", "uname -a"}),
            R"({"command":"uname -a","targets":{"agents":["x"],"labels":{"env":"prod","role":"web"},)"
            R"("regions":["eu"]},"timeout_s":60,"deadline_s":600,"concurrency":10,"max_failures":"5%"})");
}

TEST(RunRequest, RefusesUnclearRequests) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--all"},                                    // no command
           {"--all", "--"},                              // empty command
           {"--", "uptime"},                             // no target
           {"--all", "--label", "a=b", "--", "uptime"},  // --all and a filter
           {"--label", "nokey", "--", "uptime"},         // label without =
           {"--all", "uptime"},                          // command before --
           {"--all", "--concurrency", "0", "--", "x"},
           {"--all", "--max-failures", "101%", "--", "x"},
           {"--all", "--max-failures", "five", "--", "x"},
           {"--all", "--timeout", "0", "--", "x"},
       }) {
    try {
      parse(args);
      ADD_FAILURE() << "accepted: " << ::testing::PrintToString(args);
    } catch (const CliError& e) {
      EXPECT_EQ(e.exit_code(), kExitUsage);
    }
  }
}

TEST(RunRequest, CountOrPercent) {
  EXPECT_TRUE(valid_count_or_percent("1"));
  EXPECT_TRUE(valid_count_or_percent("100%"));
  EXPECT_FALSE(valid_count_or_percent("%"));
  EXPECT_FALSE(valid_count_or_percent("0%"));
  EXPECT_FALSE(valid_count_or_percent("1.5"));
}

TEST(RunRequest, KnowsAUuidFromAHostName) {
  EXPECT_TRUE(looks_like_uuid("0f8fad5b-d9cb-469f-a165-70867728950e"));
  EXPECT_FALSE(looks_like_uuid("web-1"));
  EXPECT_FALSE(looks_like_uuid("0f8fad5b-d9cb-469f-a165-70867728950"));
}

}  // namespace
}  // namespace muster::cli
