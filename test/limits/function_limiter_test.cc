#include "limits/function_limiter.h"

#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace eg::limits {
namespace {

using namespace std::chrono_literals;
using Clock = FunctionLimiter::Clock;

model::FunctionLimits rate(double r, std::optional<int64_t> burst = std::nullopt) {
  model::FunctionLimits l;
  l.rate = r;
  l.burst = burst;
  return l;
}

TEST(FunctionLimiter, ABurstThenOneCallPerTokenAtTheRate) {
  FunctionLimiter limiter(rate(10, 3));
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.tryAcquire(t0)) << i;
  const auto wait = limiter.tryAcquire(t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 100ms);  // one token at 10 a second
  EXPECT_TRUE(limiter.tryAcquire(t0 + 50ms));
  EXPECT_FALSE(limiter.tryAcquire(t0 + 100ms));
  EXPECT_TRUE(limiter.tryAcquire(t0 + 100ms));
  // Idle time refills up to the burst, not beyond.
  const auto later = t0 + 10s;
  for (int i = 0; i < 3; ++i) EXPECT_FALSE(limiter.tryAcquire(later)) << i;
  EXPECT_TRUE(limiter.tryAcquire(later));
}

TEST(FunctionLimiter, TheBurstDefaultsToTheRateRoundedUp) {
  FunctionLimiter fractional(rate(0.5));
  const auto t0 = Clock::now();
  EXPECT_FALSE(fractional.tryAcquire(t0));
  const auto wait = fractional.tryAcquire(t0);
  ASSERT_TRUE(wait);
  EXPECT_EQ(*wait, 2000ms);
  FunctionLimiter five(rate(4.2));
  int admitted = 0;
  while (!five.tryAcquire(t0)) ++admitted;
  EXPECT_EQ(admitted, 5);
}

TEST(FunctionLimiter, ConcurrencyCountsCallsUntilReleased) {
  model::FunctionLimits l;
  l.concurrency = 2;
  FunctionLimiter limiter(l);
  EXPECT_FALSE(limiter.tryAcquire());
  EXPECT_FALSE(limiter.tryAcquire());
  EXPECT_EQ(limiter.tryAcquire(), FunctionLimiter::kConcurrencyWait);
  limiter.release();
  EXPECT_FALSE(limiter.tryAcquire());
}

TEST(FunctionLimiter, ARateRefusalGivesBackTheConcurrencySlot) {
  model::FunctionLimits l = rate(1, 1);
  l.concurrency = 1;
  FunctionLimiter limiter(l);
  const auto t0 = Clock::now();
  EXPECT_FALSE(limiter.tryAcquire(t0));
  limiter.release();
  EXPECT_TRUE(limiter.tryAcquire(t0));  // the rate refuses ...
  EXPECT_TRUE(limiter.tryAcquire(t0 + 1s) == std::nullopt);  // ... and held no slot
}

TEST(Admission, HoldsBothLimitsAndGivesEverythingBackOnRefusal) {
  model::FunctionLimits one;
  one.concurrency = 1;
  FunctionLimiter weighted(one);
  FunctionLimiter target(one);
  {
    Admission a;
    EXPECT_FALSE(a.take(&weighted));
    EXPECT_FALSE(a.take(&target));
    Admission b;
    EXPECT_TRUE(b.take(&weighted));
  }
  // Released with the admission: room again.
  Admission c;
  EXPECT_FALSE(c.take(&target));
  Admission d;
  EXPECT_FALSE(d.take(&weighted));
  EXPECT_TRUE(d.take(&target));  // refused: the weighted slot it took is given back
  Admission e;
  EXPECT_FALSE(e.take(&weighted));
  EXPECT_FALSE(e.take(nullptr));
}

TEST(FunctionLimiter, NeverAdmitsMoreThanItsConcurrencyAcrossThreads) {
  model::FunctionLimits l;
  l.concurrency = 3;
  FunctionLimiter limiter(l);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2000; ++i) {
        if (limiter.tryAcquire()) continue;
        const int now = inside.fetch_add(1) + 1;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        inside.fetch_sub(1);
        limiter.release();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 3);
  EXPECT_GE(most.load(), 1);
}

}  // namespace
}  // namespace eg::limits
