#include "profile.hpp"

#include <gtest/gtest.h>

#include <map>

#include "errors.hpp"

namespace muster::cli {
namespace {

struct Env {
  std::map<std::string, std::string> vars;
  Getenv getenv() const {
    return [this](const char* name) -> const char* {
      const auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

std::string read_token(const std::string& path) { return path == "/home/op/.config/muster/prod.token" ? "s3cret\n" : ""; }

const char* const kConfig =
    "# hubs\n"
    "[default]\n"
    "url = https://hub.test:8443/\n"
    "ca_file = /etc/muster/ca.pem\n"
    "token_file = ~/.config/muster/prod.token\n"
    "\n"
    "[lab]\n"
    "url = https://lab.test\n";

Profile resolve(const Env& env, const ProfileChoice& choice = {}, const std::string& text = kConfig) {
  return resolve_profile(text, "config", choice, env.getenv(), read_token);
}

TEST(Profile, DefaultProfileFromTheFile) {
  const Env env{{{"HOME", "/home/op"}}};
  const Profile p = resolve(env);
  EXPECT_EQ(p.name, "default");
  EXPECT_EQ(p.url, "https://hub.test:8443");
  EXPECT_EQ(p.ca_file, "/etc/muster/ca.pem");
  EXPECT_EQ(p.token, "s3cret");
}

TEST(Profile, EnvironmentOverridesTheFileAndFlagsOverrideBoth) {
  const Env env{{{"HOME", "/home/op"}, {"MUSTER_URL", "https://env.test"}, {"MUSTER_CA", "/env-ca.pem"},
                 {"MUSTER_TOKEN", "envtoken"}}};
  Profile p = resolve(env);
  EXPECT_EQ(p.url, "https://env.test");
  EXPECT_EQ(p.ca_file, "/env-ca.pem");
  EXPECT_EQ(p.token, "envtoken");
  p = resolve(env, {"", "https://flag.test", "/flag-ca.pem"});
  EXPECT_EQ(p.url, "https://flag.test");
  EXPECT_EQ(p.ca_file, "/flag-ca.pem");
}

TEST(Profile, EnvironmentAloneIsEnough) {
  const Env env{{{"MUSTER_URL", "https://demo.test"}, {"MUSTER_TOKEN", "t"}}};
  const Profile p = resolve(env, {}, "");
  EXPECT_EQ(p.url, "https://demo.test");
  EXPECT_EQ(p.ca_file, "");
}

TEST(Profile, NamedProfileMustExist) {
  const Env env{{{"HOME", "/home/op"}, {"MUSTER_TOKEN", "t"}}};
  EXPECT_EQ(resolve(env, {"lab", "", ""}).url, "https://lab.test");
  EXPECT_THROW(resolve(env, {"nope", "", ""}), CliError);
  const Env by_env{{{"MUSTER_PROFILE", "lab"}, {"MUSTER_TOKEN", "t"}}};
  EXPECT_EQ(resolve(by_env).name, "lab");
}

TEST(Profile, SaysWhatIsMissingOrMalformed) {
  const Env empty;
  for (const char* text : {"", "url = x\n", "[p]\nbogus = 1\n", "[p\n", "[p]\nno equals sign\n"}) {
    try {
      resolve(empty, {}, text);
      ADD_FAILURE() << "accepted: " << text;
    } catch (const CliError& e) {
      EXPECT_EQ(e.exit_code(), kExitUsage) << text;
    }
  }
}

TEST(Profile, ConfigPathFollowsXdg) {
  EXPECT_EQ(config_path(Env{{{"HOME", "/h"}}}.getenv()), "/h/.config/muster/config");
  EXPECT_EQ(config_path(Env{{{"HOME", "/h"}, {"XDG_CONFIG_HOME", "/x"}}}.getenv()), "/x/muster/config");
  EXPECT_EQ(config_path(Env{{{"MUSTER_CONFIG", "/c"}}}.getenv()), "/c");
}

}  // namespace
}  // namespace muster::cli
