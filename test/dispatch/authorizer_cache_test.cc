#include "dispatch/authorizer_cache.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace eg::dispatch {
namespace {

using namespace std::chrono_literals;
using TimePoint = std::chrono::steady_clock::time_point;

std::shared_ptr<const AuthorizerDecision> allow(std::string principal) {
  auto d = std::make_shared<AuthorizerDecision>();
  d->allowed = true;
  d->authorization["principalId"] = principal;
  return d;
}

std::shared_ptr<const AuthorizerDecision> refuse(std::string message) {
  auto d = std::make_shared<AuthorizerDecision>();
  d->message = std::move(message);
  return d;
}

// A cache on a clock the test moves.
struct Clocked {
  explicit Clocked(std::size_t capacity)
      : cache(capacity, [this] { return now; }) {}
  TimePoint now{std::chrono::hours(1)};
  AuthorizerCache cache;
};

TEST(AuthorizerCache, HitReturnsTheStoredDecision) {
  Clocked c(10);
  EXPECT_EQ(c.cache.find("k", 1), nullptr);
  c.cache.store("k", 1, allow("alice"), 1s);
  auto hit = c.cache.find("k", 1);
  ASSERT_NE(hit, nullptr);
  EXPECT_TRUE(hit->allowed);
  EXPECT_EQ(hit->authorization.at("principalId"), "alice");

  c.cache.store("r", 1, refuse("invalid token"), 1s);
  auto refused = c.cache.find("r", 1);
  ASSERT_NE(refused, nullptr);
  EXPECT_FALSE(refused->allowed);
  EXPECT_EQ(refused->message, "invalid token");
  EXPECT_EQ(c.cache.find("other", 1), nullptr);
  EXPECT_EQ(c.cache.size(), 2u);
}

TEST(AuthorizerCache, EntriesExpireAfterTheirTtl) {
  Clocked c(10);
  c.cache.store("k", 1, allow("a"), 300ms);
  c.now += 299ms;
  EXPECT_NE(c.cache.find("k", 1), nullptr);
  c.now += 1ms;
  EXPECT_EQ(c.cache.find("k", 1), nullptr);
  EXPECT_EQ(c.cache.size(), 0u);  // dropped when found expired
}

TEST(AuthorizerCache, StoringAgainRenewsTheEntry) {
  Clocked c(10);
  c.cache.store("k", 1, allow("old"), 100ms);
  c.now += 90ms;
  c.cache.store("k", 1, allow("new"), 100ms);
  c.now += 90ms;
  auto hit = c.cache.find("k", 1);
  ASSERT_NE(hit, nullptr);
  EXPECT_EQ(hit->authorization.at("principalId"), "new");
  EXPECT_EQ(c.cache.size(), 1u);
}

TEST(AuthorizerCache, AnotherRevisionMisses) {
  Clocked c(10);
  c.cache.store("k", 1, allow("a"), 1s);
  EXPECT_EQ(c.cache.find("k", 2), nullptr);
  // Dropped: not served to the old revision either once a newer one looked.
  EXPECT_EQ(c.cache.find("k", 1), nullptr);
}

TEST(AuthorizerCache, EvictsTheLeastRecentlyUsedAtCapacity) {
  Clocked c(2);
  c.cache.store("a", 1, allow("a"), 1s);
  c.cache.store("b", 1, allow("b"), 1s);
  ASSERT_NE(c.cache.find("a", 1), nullptr);  // "b" is now the least recently used
  c.cache.store("c", 1, allow("c"), 1s);
  EXPECT_EQ(c.cache.size(), 2u);
  EXPECT_NE(c.cache.find("a", 1), nullptr);
  EXPECT_EQ(c.cache.find("b", 1), nullptr);
  EXPECT_NE(c.cache.find("c", 1), nullptr);
}

TEST(AuthorizerCache, ShardedCacheStaysWithinItsCapacity) {
  AuthorizerCache cache(AuthorizerCache::kShardedFrom + 3);
  for (int i = 0; i < 5000; ++i) cache.store("key-" + std::to_string(i), 1, allow("p"), 1min);
  EXPECT_LE(cache.size(), AuthorizerCache::kShardedFrom + 3);
  EXPECT_GE(cache.size(), AuthorizerCache::kShardedFrom / 2);
  EXPECT_NE(cache.find("key-4999", 1), nullptr);  // the newest is kept
}

TEST(AuthorizerCache, ZeroCapacityDisablesIt) {
  AuthorizerCache cache(0);
  EXPECT_FALSE(cache.enabled());
  cache.store("k", 1, allow("a"), 1s);
  EXPECT_EQ(cache.find("k", 1), nullptr);
  EXPECT_EQ(cache.size(), 0u);
  EXPECT_TRUE(AuthorizerCache(1).enabled());
}

TEST(AuthorizerCache, ConcurrentUseFromThreads) {
  // Small enough to evict all the time, large enough to be sharded.
  AuthorizerCache cache(AuthorizerCache::kShardedFrom);
  std::atomic<int> hits{0};
  std::atomic<bool> wrong{false};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 20'000; ++i) {
        const std::string key = "k" + std::to_string((i * 7 + t) % 3000);
        if (auto hit = cache.find(key, 1)) {
          ++hits;
          if (std::string_view(hit->authorization.at("principalId").as_string()) != key) wrong = true;
        } else {
          cache.store(key, 1, allow(key), 1min);
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_FALSE(wrong.load());
  EXPECT_GT(hits.load(), 0);
  EXPECT_LE(cache.size(), AuthorizerCache::kShardedFrom);
}

}  // namespace
}  // namespace eg::dispatch
