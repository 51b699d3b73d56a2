#include "dispatch/async_queue.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

namespace eg::dispatch {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

class AsyncQueueTest : public ::testing::Test {
 protected:
  // Runs the io_context until `done` or the deadline; true when `done`.
  template <class Pred>
  bool runUntil(Pred done, std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      ioc_.run_one_for(5ms);
    }
    return done();
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
};

// A job that stays in flight until `release` is set.
AsyncQueue::Job gatedJob(std::shared_ptr<std::atomic<bool>> release,
                         std::shared_ptr<std::atomic<int>> running,
                         std::shared_ptr<std::atomic<int>> maxRunning,
                         std::shared_ptr<std::atomic<int>> done) {
  return [=]() -> asio::awaitable<void> {
    const int now = ++*running;
    int seen = maxRunning->load();
    while (now > seen && !maxRunning->compare_exchange_weak(seen, now)) {
    }
    asio::steady_timer timer(co_await asio::this_coro::executor);
    while (!release->load()) {
      timer.expires_after(1ms);
      co_await timer.async_wait(asio::use_awaitable);
    }
    --*running;
    ++*done;
  };
}

TEST_F(AsyncQueueTest, CapacityIsWorkersPlusBacklog) {
  AsyncQueue queue({ioc_.get_executor()}, 3, 5);
  EXPECT_EQ(queue.capacity(), 8u);
  EXPECT_EQ(queue.workers(), 3u);
}

TEST_F(AsyncQueueTest, ReservationIsAllOrNothing) {
  AsyncQueue queue({ioc_.get_executor()}, 1, 2);  // 3 slots
  EXPECT_TRUE(queue.tryReserve(2));
  EXPECT_EQ(queue.used(), 2u);
  EXPECT_FALSE(queue.tryReserve(2));  // only one slot left: nothing taken
  EXPECT_EQ(queue.used(), 2u);
  EXPECT_TRUE(queue.tryReserve(1));
  EXPECT_FALSE(queue.tryReserve(1));
  queue.release(3);
  EXPECT_EQ(queue.used(), 0u);
  EXPECT_TRUE(queue.tryReserve(3));
  EXPECT_FALSE(queue.tryReserve(4));
  queue.release(3);
  EXPECT_TRUE(queue.tryReserve(0));
}

TEST_F(AsyncQueueTest, ConcurrentReservationsNeverOvercommit) {
  AsyncQueue queue({ioc_.get_executor()}, 10, 90);  // 100 slots
  std::atomic<int> granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (queue.tryReserve(3)) granted += 3;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(granted.load(), 99);  // 33 reservations of 3 fit in 100
  EXPECT_EQ(queue.used(), 99u);
  queue.release(99);
}

TEST_F(AsyncQueueTest, WorkersBoundConcurrencyAndBacklogRefusesBeyond) {
  metrics::Gauge gauge;
  AsyncQueue queue({ioc_.get_executor()}, 2, 3, &gauge);  // 5 slots
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto running = std::make_shared<std::atomic<int>>(0);
  auto maxRunning = std::make_shared<std::atomic<int>>(0);
  auto done = std::make_shared<std::atomic<int>>(0);

  ASSERT_TRUE(queue.tryReserve(5));
  for (int i = 0; i < 5; ++i) queue.submit(gatedJob(release, running, maxRunning, done));
  EXPECT_EQ(gauge.value(), 5);
  EXPECT_FALSE(queue.tryReserve(1));  // full: the next event is refused

  ASSERT_TRUE(runUntil([&] { return running->load() == 2; }));
  // Give the io_context time to (wrongly) start more.
  for (int i = 0; i < 20; ++i) ioc_.run_one_for(1ms);
  EXPECT_EQ(running->load(), 2);
  EXPECT_EQ(queue.running(), 2u);
  EXPECT_EQ(queue.waiting(), 3u);

  release->store(true);
  ASSERT_TRUE(runUntil([&] { return done->load() == 5 && queue.used() == 0; }));
  EXPECT_EQ(maxRunning->load(), 2);
  EXPECT_EQ(gauge.value(), 0);
  EXPECT_EQ(queue.running(), 0u);
  EXPECT_TRUE(queue.tryReserve(5));  // capacity is back
  queue.release(5);
}

TEST_F(AsyncQueueTest, JobsSpreadOverExecutors) {
  asio::io_context other;
  AsyncQueue queue({ioc_.get_executor(), other.get_executor()}, 4, 0);
  std::atomic<int> onFirst{0}, onSecond{0};
  ASSERT_TRUE(queue.tryReserve(4));
  for (int i = 0; i < 4; ++i) {
    queue.submit([&]() -> asio::awaitable<void> {
      auto ex = co_await asio::this_coro::executor;
      if (ex == asio::any_io_executor(ioc_.get_executor())) {
        ++onFirst;
      } else {
        ++onSecond;
      }
    });
  }
  std::thread t([&] { other.run_for(2s); });
  ASSERT_TRUE(runUntil([&] { return onFirst + onSecond == 4 && queue.used() == 0; }));
  other.stop();
  t.join();
  EXPECT_EQ(onFirst.load(), 2);
  EXPECT_EQ(onSecond.load(), 2);
}

TEST_F(AsyncQueueTest, ThrowingJobFreesItsSlot) {
  AsyncQueue queue({ioc_.get_executor()}, 1, 0);
  ASSERT_TRUE(queue.tryReserve(1));
  queue.submit([]() -> asio::awaitable<void> {
    throw std::runtime_error("boom");
    co_return;
  });
  ASSERT_TRUE(runUntil([&] { return queue.used() == 0; }));
  EXPECT_TRUE(queue.tryReserve(1));
  queue.release(1);
}

TEST_F(AsyncQueueTest, WaitIdleWaitsForQueuedAndRunningJobs) {
  AsyncQueue queue({ioc_.get_executor()}, 1, 3);
  auto release = std::make_shared<std::atomic<bool>>(false);
  auto running = std::make_shared<std::atomic<int>>(0);
  auto maxRunning = std::make_shared<std::atomic<int>>(0);
  auto done = std::make_shared<std::atomic<int>>(0);
  ASSERT_TRUE(queue.tryReserve(3));
  for (int i = 0; i < 3; ++i) queue.submit(gatedJob(release, running, maxRunning, done));

  std::atomic<bool> stop{false};
  std::thread runner([&] {
    while (!stop) ioc_.run_one_for(5ms);
  });
  // Blocked job: the wait times out.
  EXPECT_FALSE(queue.waitIdle(50ms));
  release->store(true);
  EXPECT_TRUE(queue.waitIdle(3000ms));
  EXPECT_EQ(done->load(), 3);
  stop = true;
  runner.join();
}

TEST_F(AsyncQueueTest, WaitIdleSeesUnsubmittedReservations) {
  AsyncQueue queue({ioc_.get_executor()}, 1, 1);
  ASSERT_TRUE(queue.tryReserve(1));
  EXPECT_FALSE(queue.waitIdle(10ms));
  queue.release(1);
  EXPECT_TRUE(queue.waitIdle(10ms));
}

}  // namespace
}  // namespace eg::dispatch
