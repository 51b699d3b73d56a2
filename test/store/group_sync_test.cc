#include "store/group_sync.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <gtest/gtest.h>

namespace eg::store {
namespace {

using namespace std::chrono_literals;

// A sync the test holds: each call records the applied revision it started at and
// waits until the test lets it finish, answering `result`.
class HeldSync {
 public:
  explicit HeldSync(const std::atomic<int64_t>& applied) : applied_(applied) {}

  Status operator()() {
    std::unique_lock lock(mu_);
    startedAt_.push_back(applied_.load());
    changed_.notify_all();
    changed_.wait(lock, [&] { return released_ >= startedAt_.size(); });
    return result_;
  }

  // Waits until `n` syncs have started.
  bool waitStarted(size_t n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 5s, [&] { return startedAt_.size() >= n; });
  }
  void release(size_t n, Status result = {}) {
    std::lock_guard lock(mu_);
    released_ = n;
    result_ = std::move(result);
    changed_.notify_all();
  }
  std::vector<int64_t> startedAt() {
    std::lock_guard lock(mu_);
    return startedAt_;
  }

 private:
  const std::atomic<int64_t>& applied_;
  std::mutex mu_;
  std::condition_variable changed_;
  std::vector<int64_t> startedAt_;
  size_t released_ = 0;
  Status result_;
};

// Waiters of a GroupSync, each a coroutine on one io_context run by its own thread.
class Waiters {
 public:
  Waiters() : work_(ioc_.get_executor()), thread_([this] { ioc_.run(); }) {}
  ~Waiters() {
    work_.reset();
    thread_.join();
  }

  void wait(GroupSync& sync, int64_t revision) {
    asio::co_spawn(ioc_, sync.durable(revision), [this](std::exception_ptr, Status s) {
      std::lock_guard lock(mu_);
      (s ? ok_ : failed_) += 1;
      done_.notify_all();
    });
  }
  bool waitDone(int n) {
    std::unique_lock lock(mu_);
    return done_.wait_for(lock, 5s, [&] { return ok_ + failed_ >= n; });
  }
  int ok() {
    std::lock_guard lock(mu_);
    return ok_;
  }
  int failed() {
    std::lock_guard lock(mu_);
    return failed_;
  }

 private:
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable done_;
  int ok_ = 0;
  int failed_ = 0;
};

TEST(GroupSyncTest, WhatWasAppliedAtTheStartIsDurableAtOnce) {
  std::atomic<int64_t> applied{7};
  HeldSync held(applied);
  GroupSync sync(std::ref(held), applied);
  Waiters waiters;
  waiters.wait(sync, 7);
  ASSERT_TRUE(waiters.waitDone(1));
  EXPECT_EQ(waiters.ok(), 1);
  EXPECT_EQ(sync.syncs(), 0u);
}

// A group sync whose syncs the test holds, its first sync running for revision 1.
class HeldGroupSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    applied = 1;
    waiters.wait(sync, 1);
    ASSERT_TRUE(held.waitStarted(1));
  }

  std::atomic<int64_t> applied{0};
  HeldSync held{applied};
  GroupSync sync{std::ref(held), applied};
  Waiters waiters;
};

TEST_F(HeldGroupSyncTest, WaitersThatArriveDuringASyncShareTheNextOne) {
  // While the first sync runs, 50 more writes are applied and wait.
  for (int64_t r = 2; r <= 51; ++r) {
    applied = r;
    waiters.wait(sync, r);
  }
  held.release(1);
  ASSERT_TRUE(held.waitStarted(2));
  // The first sync started before revision 2 was applied: it answers revision 1 only.
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(waiters.ok(), 1);
  held.release(2);
  ASSERT_TRUE(waiters.waitDone(51));
  EXPECT_EQ(waiters.ok(), 51);
  EXPECT_EQ(sync.syncs(), 2u);
  EXPECT_EQ(held.startedAt(), (std::vector<int64_t>{1, 51}));
}

TEST_F(HeldGroupSyncTest, AFailedSyncFailsItsWaitersAndEveryLaterOne) {
  held.release(1, Error::unavailable("disk gone"));
  ASSERT_TRUE(waiters.waitDone(1));
  EXPECT_EQ(waiters.failed(), 1);
  EXPECT_FALSE(sync.healthy());

  applied = 2;
  waiters.wait(sync, 2);
  ASSERT_TRUE(waiters.waitDone(2));
  EXPECT_EQ(waiters.failed(), 2);
  EXPECT_EQ(sync.syncs(), 1u);  // nothing is promised after a failure
}

TEST(GroupSyncTest, DestroyedRightAfterASyncItsWaiterIsStillAnswered) {
  std::atomic<int64_t> applied{0};
  HeldSync held(applied);
  Waiters waiters;
  {
    GroupSync sync(std::ref(held), applied);
    applied = 1;
    waiters.wait(sync, 1);
    ASSERT_TRUE(held.waitStarted(1));
    held.release(1);
  }
  ASSERT_TRUE(waiters.waitDone(1));
  EXPECT_EQ(waiters.ok(), 1);
}

TEST(GroupSyncTest, SyncsARealFileAndAnswersAMissingOne) {
  char dir[] = "/tmp/eg-group-sync-XXXXXX";
  ASSERT_NE(mkdtemp(dir), nullptr);
  const std::string path = std::string(dir) + "/wal";
  std::atomic<int64_t> applied{0};
  {
    // Missing: nothing was appended, so there is nothing to sync.
    auto sync = GroupSync::forFile(path, applied);
    ASSERT_TRUE(sync) << sync.error().message;
    FILE* f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("frame", f);
    fclose(f);
    applied = 1;
    Waiters waiters;
    waiters.wait(**sync, 1);
    ASSERT_TRUE(waiters.waitDone(1));
    EXPECT_EQ(waiters.ok(), 1);
    EXPECT_EQ((*sync)->syncs(), 1u);

    // Removed and created again (as SQLite does with a WAL): the next sync opens the new
    // file and lets go of the old one.
    ASSERT_EQ(std::remove(path.c_str()), 0);
    f = fopen(path.c_str(), "w");
    ASSERT_NE(f, nullptr);
    fputs("frame", f);
    fclose(f);
    applied = 2;
    waiters.wait(**sync, 2);
    ASSERT_TRUE(waiters.waitDone(2));
    EXPECT_EQ(waiters.ok(), 2);
    int atPath = 0, deleted = 0;
    for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
      std::error_code ec;
      const std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
      if (target == path) ++atPath;
      if (target == path + " (deleted)") ++deleted;
    }
    EXPECT_EQ(atPath, 1);
    EXPECT_EQ(deleted, 0);
  }
  std::remove(path.c_str());
  rmdir(dir);
}

}  // namespace
}  // namespace eg::store
