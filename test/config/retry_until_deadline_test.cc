#include "config/retry_until_deadline.h"

#include <limits>

#include <gtest/gtest.h>

#include "config/fakes.h"

namespace eg::config {
namespace {

using namespace std::chrono_literals;

TEST(RetryUntilDeadline, PausesAreJitteredUnderACeilingThatDoublesUpToTheMaximum) {
  std::mt19937_64 random(42);
  for (const int retry : {1, 2, 3, 8, 9, 40, std::numeric_limits<int>::max()}) {
    // 1 ms, 2 ms, 4 ms, ..., 128 ms, then 250 ms for good.
    const std::chrono::microseconds ceiling =
        retry <= 8 ? std::chrono::microseconds(1000 << (retry - 1)) : 250ms;
    std::chrono::microseconds lowest = ceiling, highest{0};
    for (int i = 0; i < 200; ++i) {
      const auto pause = RetryUntilDeadline::pause(retry, random);
      lowest = std::min(lowest, pause);
      highest = std::max(highest, pause);
    }
    EXPECT_GE(lowest.count(), 0) << "retry " << retry;
    EXPECT_LE(highest, ceiling) << "retry " << retry;
    // Spread over the whole range: writers that collided do not come back together.
    EXPECT_LT(lowest, ceiling / 4) << "retry " << retry;
    EXPECT_GT(highest, ceiling * 3 / 4) << "retry " << retry;
  }
}

TEST(RetryUntilDeadline, RetriesUntilTheDeadlineThenStops) {
  constexpr auto kBudget = 100ms;
  const auto start = std::chrono::steady_clock::now();
  const int attempts = testing::run([&]() -> asio::awaitable<int> {
    RetryUntilDeadline retry(kBudget);
    int n = 0;
    while (co_await retry.next()) ++n;
    co_return n;
  }());
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_GT(attempts, 3);
  EXPECT_GE(elapsed, kBudget);
  EXPECT_LT(elapsed, kBudget + 5s);  // generous: a loaded machine wakes timers late
}

}  // namespace
}  // namespace eg::config
