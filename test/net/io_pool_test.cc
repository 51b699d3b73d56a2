#include "net/io_pool.h"

#include <atomic>
#include <future>
#include <set>
#include <thread>

#include <boost/asio/post.hpp>
#include <gtest/gtest.h>

namespace eg::net {
namespace {

std::thread::id threadOf(asio::io_context& ctx) {
  std::promise<std::thread::id> id;
  asio::post(ctx, [&] { id.set_value(std::this_thread::get_id()); });
  return id.get_future().get();
}

TEST(IoPoolTest, EachContextRunsOnItsOwnThread) {
  IoPool pool(3);
  ASSERT_EQ(pool.size(), 3u);
  EXPECT_FALSE(pool.running());
  pool.start();
  EXPECT_TRUE(pool.running());
  std::set<std::thread::id> threads;
  for (std::size_t i = 0; i < pool.size(); ++i) threads.insert(threadOf(pool.context(i)));
  EXPECT_EQ(threads.size(), 3u);
  EXPECT_EQ(threads.count(std::this_thread::get_id()), 0u);
  // The same context always runs on the same thread.
  EXPECT_EQ(threadOf(pool.context(1)), threadOf(pool.context(1)));
  pool.stop();
  EXPECT_FALSE(pool.running());
}

TEST(IoPoolTest, NextIsRoundRobin) {
  IoPool pool(2);
  asio::io_context* a = &pool.next();
  asio::io_context* b = &pool.next();
  EXPECT_NE(a, b);
  EXPECT_EQ(&pool.next(), a);
  EXPECT_EQ(&pool.next(), b);
}

TEST(IoPoolTest, ZeroThreadsMeansOne) {
  IoPool pool(0);
  EXPECT_EQ(pool.size(), 1u);
}

TEST(IoPoolTest, StopJoinsThreadsAndIsIdempotent) {
  IoPool pool(2);
  pool.start();
  std::atomic<int> ran{0};
  std::promise<void> done;
  asio::post(pool.context(0), [&] {
    ++ran;
    done.set_value();
  });
  done.get_future().wait();
  pool.stop();
  pool.stop();
  // Nothing runs the contexts any more: posted work stays queued.
  asio::post(pool.context(0), [&] { ++ran; });
  std::this_thread::yield();
  EXPECT_EQ(ran.load(), 1);
}

TEST(IoPoolTest, SurvivesAnExceptionEscapingAHandler) {
  IoPool pool(1);
  pool.start();
  asio::post(pool.context(0), [] { throw std::runtime_error("boom"); });
  // The thread keeps running the context after logging.
  EXPECT_NE(threadOf(pool.context(0)), std::thread::id{});
  pool.stop();
}

}  // namespace
}  // namespace eg::net
