#include "common/background_thread.h"

#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <future>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

namespace eg {
namespace {

TEST(BackgroundThreadTest, RunsItsWorkBelowTheOtherThreadsPriority) {
  BackgroundThread thread("eg-test-bg", 7);
  std::promise<std::pair<int, int>> seen;
  boost::asio::post(thread.context(), [&] {
    seen.set_value({::sched_getscheduler(0),
                    ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()))});
  });
  auto future = seen.get_future();
  ASSERT_EQ(future.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  const auto [policy, nice] = future.get();
  EXPECT_EQ(policy, SCHED_IDLE);
  EXPECT_EQ(nice, 7);
  // The creating thread keeps its own.
  EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
}

TEST(BackgroundThreadTest, TheDestructorRunsWhatWasQueued) {
  int ran = 0;
  {
    BackgroundThread thread("eg-test-bg");
    for (int i = 0; i < 100; ++i) boost::asio::post(thread.context(), [&] { ++ran; });
  }
  EXPECT_EQ(ran, 100);
}

}  // namespace
}  // namespace eg
