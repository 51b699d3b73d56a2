#include "common/thread_policy.h"

#include <pthread.h>
#include <sched.h>
#include <sys/resource.h>
#include <unistd.h>

#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace eg {
namespace {

TEST(ThreadPolicyTest, ABatchThreadIsNamedAndKeepsItsNiceValue) {
  const int niceBefore = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
  int policy = -1, nice = -1;
  std::string name;
  std::thread thread([&] {
    becomeBatchThread("eg-test-batch-thread");
    policy = ::sched_getscheduler(0);
    nice = ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
    char buffer[16] = {};
    pthread_getname_np(pthread_self(), buffer, sizeof buffer);
    name = buffer;
  });
  thread.join();
  EXPECT_EQ(policy, SCHED_BATCH);
  EXPECT_EQ(nice, niceBefore);
  EXPECT_EQ(name, "eg-test-batch-t");  // the kernel keeps 15 characters
  // The creating thread keeps its own.
  EXPECT_EQ(::sched_getscheduler(0), SCHED_OTHER);
}

}  // namespace
}  // namespace eg
