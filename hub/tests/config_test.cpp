// The hub's configuration: one table of keys drives loading, validation,
// --print and the reference in docs/commands.md.
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include "config.hpp"
#include "config_keys.hpp"

namespace muster::hub {
namespace {

class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    char name[] = "/tmp/muster-hub-config-XXXXXX";
    const int fd = ::mkstemp(name);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

const char* kRegion = R"(
[region.eu]
xmpp_domain = eu.example
xmpp_ca_file = /etc/ca.pem
component_secret = s3cret
shards = shard0.eu.example, shard1.eu.example
)";

std::string error_of(const std::string& text, const std::string& role = "") {
  ConfigFile f(text);
  try {
    load_config(f.path(), role);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(Config, DefaultsComeFromTheTable) {
  ConfigFile f(kRegion);
  const HubConfig c = load_config(f.path());
  EXPECT_EQ(c.role, HubRole::all);
  EXPECT_EQ(c.api_port, 8443);
  EXPECT_EQ(c.api_threads, 16);
  EXPECT_EQ(c.store_port, 6379);
  EXPECT_EQ(c.job_retention_s, 604800);
  ASSERT_EQ(c.regions.size(), 1u);
  EXPECT_EQ(c.regions[0].name, "eu");
  EXPECT_EQ(c.regions[0].xmpp_port, 5222);
  EXPECT_EQ(c.regions[0].shards.size(), 2u);
  EXPECT_NE(c.signing_key.find("/signing-key.pem"), std::string::npos);
}

TEST(Config, EveryBadValueNamesItsKey) {
  EXPECT_EQ(error_of(std::string("[api]\nthreads = 0\n") + kRegion),
            "api.threads must be a whole number from 1 to 1024, got \"0\"");
  EXPECT_EQ(error_of(std::string("[store]\nport = 70000\n") + kRegion),
            "store.port must be a port number (1-65535), got \"70000\"");
  EXPECT_EQ(error_of(std::string("[api]\nlisten = nohost\n") + kRegion), "api.listen must be HOST:PORT, got \"nohost\"");
  EXPECT_EQ(error_of(std::string("[hub]\nrole = boss\n") + kRegion), "hub.role must be api, master or all, got \"boss\"");
  EXPECT_EQ(error_of(std::string("[api]\ntls_cert = /a.crt\n") + kRegion), "api.tls_cert and api.tls_key go together");
}

TEST(Config, UnknownKeysAreRefused) {
  EXPECT_EQ(error_of(std::string("[api]\nthreadz = 4\n") + kRegion),
            "unknown key api.threadz (docs/commands.md lists every key)");
  EXPECT_EQ(error_of(std::string("[apl]\nthreads = 4\n") + kRegion),
            "unknown key apl.threads (docs/commands.md lists every key)");
  EXPECT_EQ(error_of(std::string(kRegion) + "xmpp_domian = x\n"),
            "unknown key region.eu.xmpp_domian (docs/commands.md lists every key)");
}

TEST(Config, WhatIsRequiredFollowsTheRoleGivenOnTheCommandLine) {
  const std::string no_secret = "[hub]\nrole = api\n[region.eu]\nxmpp_domain = eu.example\nxmpp_ca_file = /ca.pem\n"
                                "shards = s0.eu.example\n";
  EXPECT_EQ(error_of(no_secret), "");
  EXPECT_EQ(error_of(no_secret, "master"), "region.eu.component_secret is required");
  EXPECT_EQ(error_of(no_secret, "all"), "region.eu.component_secret is required");
  EXPECT_EQ(error_of(no_secret, "boss"), "--role must be api, master or all, got \"boss\"");
  EXPECT_EQ(error_of("[region.eu]\nxmpp_ca_file = /ca.pem\nshards = s0\ncomponent_secret = x\n"),
            "region.eu.xmpp_domain is required");
}

TEST(Config, TheSingleRegionFormStillLoads) {
  ConfigFile f("[region]\nname = default\nxmpp_domain = d.example\nxmpp_ca_file = /ca.pem\ncomponent_secret = x\n"
               "shard = shard.d.example\n");
  const HubConfig c = load_config(f.path());
  ASSERT_EQ(c.regions.size(), 1u);
  EXPECT_EQ(c.regions[0].name, "default");
  EXPECT_EQ(c.regions[0].shards, std::vector<std::string>{"shard.d.example"});
}

TEST(Config, PrintShowsTheEffectiveValuesWithSecretsMasked) {
  ConfigFile f(std::string("[store]\npassword = hunter2\n") + kRegion);
  const std::string printed = print_config(load_config(f.path(), "master"));
  EXPECT_NE(printed.find("role = master\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("password = ********\n"), std::string::npos) << printed;
  EXPECT_NE(printed.find("component_secret = ********\n"), std::string::npos) << printed;
  EXPECT_EQ(printed.find("hunter2"), std::string::npos);
  EXPECT_EQ(printed.find("s3cret"), std::string::npos);
  EXPECT_NE(printed.find("[region.eu]\n"), std::string::npos);
  // What --print writes loads again to the same configuration.
  ConfigFile again(printed);
  EXPECT_EQ(print_config(load_config(again.path())), printed);
}

TEST(Config, TheDocsShowExactlyTheTable) {
  std::ifstream in(std::string(MUSTER_SOURCE_DIR) + "/docs/commands.md");
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const std::string begin = "<!-- config reference: begin -->\n```ini\n";
  const std::string end = "```\n<!-- config reference: end -->";
  const auto b = doc.find(begin);
  const auto e = doc.find(end);
  ASSERT_NE(b, std::string::npos) << "docs/commands.md lost its config reference markers";
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), config_reference())
      << "docs/commands.md and the configuration table differ: paste `muster-hub config --reference` there";
}

}  // namespace
}  // namespace muster::hub
