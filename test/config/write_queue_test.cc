#include "config/write_queue.h"

#include <atomic>
#include <thread>

#include <gtest/gtest.h>

#include "config/fakes.h"

namespace eg::config {
namespace {

asio::awaitable<void> yield() {
  co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
}

TEST(WriteQueue, OneWriteAtATimeAcrossThreads) {
  WriteQueue queue;
  std::atomic<int> inside{0}, mostInside{0};
  const auto results = testing::concurrently<int>(64, [&](int i) -> asio::awaitable<int> {
    const auto turn = co_await queue.turn();
    mostInside = std::max(mostInside.load(), ++inside);
    for (int k = 0; k < 3; ++k) co_await yield();  // others get every chance to run meanwhile
    --inside;
    co_return i;
  });
  EXPECT_EQ(results.size(), 64u);
  EXPECT_EQ(mostInside.load(), 1);
}

TEST(WriteQueue, TurnsGoInArrivalOrder) {
  WriteQueue queue;
  asio::io_context ioc;
  std::vector<int> order;
  for (int i = 0; i < 5; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> asio::awaitable<void> {
          const auto turn = co_await queue.turn();
          for (int k = 0; k < 5 - i; ++k) co_await yield();  // the first holds it longest
          order.push_back(i);
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
  ioc.run();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
}

}  // namespace
}  // namespace eg::config
