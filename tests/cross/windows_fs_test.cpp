// Windows file operations (agent/src/platform/windows/fs_windows.cpp) that the
// journal, spool and state files rely on. Built into agent_tests for Windows.
#include <windows.h>

#include <gtest/gtest.h>

#include <string>

#include "platform/fs.hpp"
#include "platform/startup.hpp"

namespace platform = muster::agent::platform;

namespace {

std::string temp_dir() {
  char base[MAX_PATH] = {};
  ::GetTempPathA(MAX_PATH, base);
  return platform::join_path(base, "muster-fs-test-" + std::to_string(::GetCurrentProcessId()) + "-" +
                                       std::to_string(::GetTickCount64()));
}

}  // namespace

TEST(WindowsFs, PrivateDirFilesAndListing) {
  const std::string dir = platform::join_path(temp_dir(), "nested/state");
  ASSERT_TRUE(platform::make_private_dir(dir)) << "make_private_dir " << dir;
  ASSERT_TRUE(platform::make_private_dir(dir)) << "again, existing";

  const std::string a = platform::join_path(dir, "a.json");
  ASSERT_TRUE(platform::write_file_atomic(a, "first", true));
  ASSERT_TRUE(platform::write_file_atomic(a, "second \xc3\xa9", true));  // replaces
  auto read = platform::read_file(a);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "second \xc3\xa9");
  EXPECT_FALSE(platform::file_exists(a + ".tmp"));

  const std::string journal = platform::join_path(dir, "journal");
  ASSERT_TRUE(platform::append_line_durable(journal, "start 1"));
  ASSERT_TRUE(platform::append_line_durable(journal, "done 1"));
  read = platform::read_file(journal);
  ASSERT_TRUE(read);
  EXPECT_EQ(*read, "start 1\ndone 1\n");

  ASSERT_TRUE(platform::make_private_dir(platform::join_path(dir, "subdir")));
  EXPECT_EQ(platform::list_files(dir), (std::vector<std::string>{"a.json", "journal"}));

  ASSERT_TRUE(platform::remove_file(a));
  ASSERT_TRUE(platform::remove_file(a)) << "removing a missing file is fine";
  EXPECT_FALSE(platform::file_exists(a));
  EXPECT_FALSE(platform::read_file(a));
}

TEST(WindowsFs, UnicodePaths) {
  const std::string dir = platform::join_path(temp_dir(), "d\xc3\xa9j\xc3\xa0");
  ASSERT_TRUE(platform::make_private_dir(dir));
  const std::string f = platform::join_path(dir, "\xe6\x97\xa5\xe6\x9c\xac.txt");
  ASSERT_TRUE(platform::write_file_atomic(f, "x", false));
  EXPECT_EQ(platform::list_files(dir), (std::vector<std::string>{"\xe6\x97\xa5\xe6\x9c\xac.txt"}));
}

TEST(WindowsFs, DefaultStateDirIsUnderProgramData) {
  const std::string dir = muster::agent::platform::default_state_dir();
  ASSERT_GT(dir.size(), 3u);
  EXPECT_EQ(dir[1], ':') << dir;
  EXPECT_NE(dir.find("\\Muster\\agent"), std::string::npos) << dir;
}
