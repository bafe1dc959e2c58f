#include "options.hpp"

#include <gtest/gtest.h>

#include "errors.hpp"

namespace muster::cli {
namespace {

const std::vector<OptionSpec> kSpecs = {
    {"--all", nullptr, "every agent"},
    {"--label", "K=V", "a label", true},
    {"--timeout", "S", "seconds"},
};

int usage_exit(const std::vector<std::string>& args) {
  try {
    parse_options(kSpecs, args);
  } catch (const CliError& e) {
    return e.exit_code();
  }
  return -1;
}

TEST(ParseOptions, ReadsFlagsValuesAndTheCommandAfterDashDash) {
  const auto o = parse_options(kSpecs, {"--all", "--label", "a=1", "--label=b=2", "--timeout", "30", "pos", "--",
                                        "echo", "--all"});
  EXPECT_TRUE(o.has("--all"));
  EXPECT_EQ(o.all("--label"), (std::vector<std::string>{"a=1", "b=2"}));
  EXPECT_EQ(o.value("--timeout"), "30");
  EXPECT_EQ(o.positional, (std::vector<std::string>{"pos"}));
  EXPECT_TRUE(o.saw_dashdash);
  EXPECT_EQ(o.after_dashdash, (std::vector<std::string>{"echo", "--all"}));  // options of the remote command
  EXPECT_EQ(o.value("--missing", "fallback"), "fallback");
}

TEST(ParseOptions, HelpIsAlwaysKnown) {
  EXPECT_TRUE(parse_options(kSpecs, {"-h"}).has("--help"));
  EXPECT_TRUE(parse_options(kSpecs, {"--help"}).has("--help"));
}

TEST(ParseOptions, RefusesWhatItCannotRead) {
  EXPECT_EQ(usage_exit({"--bogus"}), kExitUsage);
  EXPECT_EQ(usage_exit({"--timeout"}), kExitUsage);          // no value
  EXPECT_EQ(usage_exit({"--timeout", "1", "--timeout", "2"}), kExitUsage);  // single option twice
  EXPECT_EQ(usage_exit({"--all=yes"}), kExitUsage);          // a flag with a value
}

TEST(ParseIntOption, ChecksRangeAndDigits) {
  EXPECT_EQ(parse_int_option("--timeout", "60", 1, 86400), 60);
  for (const char* bad : {"", "0", "86401", "1.5", "12s", "-1"}) {
    EXPECT_THROW(parse_int_option("--timeout", bad, 1, 86400), CliError) << bad;
  }
}

TEST(OptionsHelp, AlignsAndMarksRepeatable) {
  EXPECT_EQ(options_help(kSpecs),
            "  --all        every agent\n"
            "  --label K=V  a label (repeatable)\n"
            "  --timeout S  seconds\n");
}

}  // namespace
}  // namespace muster::cli
