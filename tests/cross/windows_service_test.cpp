// The service entry (agent/src/platform/windows/service_windows.cpp) outside
// the Service Control Manager: a console run of `muster-agent service` must
// say so and never run the agent. The SCM path itself is tested end to end
// (tests/cross/run_cross_test.py windows-x86_64 windows-service).
#include <gtest/gtest.h>

#include "platform/startup.hpp"

namespace platform = muster::agent::platform;

TEST(WindowsService, OutsideTheScmTheDispatcherRefuses) {
  bool ran = false;
  const platform::ServiceBody body = [&ran](volatile std::sig_atomic_t*, const std::function<void()>&) {
    ran = true;
    return 0;
  };
  int code = -1;
  std::string error;
  EXPECT_FALSE(platform::run_as_service(body, code, error));
  EXPECT_FALSE(ran);
  EXPECT_NE(error.find("not started by the Service Control Manager"), std::string::npos) << error;
}

TEST(WindowsService, DefaultTaskUserIsLocalService) { EXPECT_EQ(platform::default_task_user(), "LocalService"); }
