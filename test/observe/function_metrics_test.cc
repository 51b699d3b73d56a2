#include "observe/function_metrics.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace eg::observe {
namespace {

using namespace std::chrono_literals;

bool has(const metrics::Registry& registry, const std::string& text) {
  return registry.render().find(text) != std::string::npos;
}

std::string calls(std::string_view space, std::string_view function, std::string_view outcome,
                  int value) {
  return "eventgateway_function_calls_total{space=\"" + std::string(space) + "\",function=\"" +
         std::string(function) + "\",outcome=\"" + std::string(outcome) + "\"} " +
         std::to_string(value) + "\n";
}

TEST(FunctionStatsTest, AFunctionHasNoSeriesUntilItsFirstCall) {
  metrics::Registry registry;
  FunctionMetrics metrics(registry);
  FunctionStats stats;
  EXPECT_FALSE(has(registry, "eventgateway_function_calls_total{"));
  stats.record(metrics, "s", "f", Outcome::kDelivered, 2ms);
  stats.record(metrics, "s", "f", Outcome::kRetrying, 30ms);
  stats.record(metrics, "s", "f", Outcome::kReceived, 0ms);  // not a call
  EXPECT_TRUE(has(registry, calls("s", "f", "delivered", 1)));
  EXPECT_TRUE(has(registry, calls("s", "f", "retrying", 1)));
  EXPECT_TRUE(has(registry, calls("s", "f", "failed", 0)));
  EXPECT_TRUE(has(registry, calls("s", "f", "deadlettered", 0)));
  EXPECT_TRUE(has(registry,
                  "eventgateway_function_duration_seconds_bucket{space=\"s\",function=\"f\","
                  "le=\"0.0025\"} 1\n"));
  EXPECT_TRUE(has(registry,
                  "eventgateway_function_duration_seconds_count{space=\"s\",function=\"f\"} 2\n"));
}

TEST(FunctionStatsTest, SeriesLeaveTheScrapeWithTheLastEntryOfTheFunction) {
  metrics::Registry registry;
  FunctionMetrics metrics(registry);
  auto entry = std::make_unique<FunctionStats>();
  entry->record(metrics, "s", "f", Outcome::kFailed, 1ms);
  // A changed function's new entry shares the series (ConfigCache copies them over).
  auto replacement = std::make_unique<FunctionStats>(*entry);
  entry.reset();
  replacement->record(metrics, "s", "f", Outcome::kFailed, 1ms);
  EXPECT_TRUE(has(registry, calls("s", "f", "failed", 2)));
  replacement.reset();
  EXPECT_FALSE(has(registry, "function=\"f\""));
}

TEST(FunctionStatsTest, EntriesOfOneFunctionFindTheSameSeriesByName) {
  metrics::Registry registry;
  FunctionMetrics metrics(registry);
  FunctionStats a;
  FunctionStats b;  // made apart (a function deleted and created again while the old lives)
  a.record(metrics, "s", "f", Outcome::kDelivered, 1ms);
  b.record(metrics, "s", "f", Outcome::kDelivered, 1ms);
  EXPECT_TRUE(has(registry, calls("s", "f", "delivered", 2)));
}

TEST(FunctionStatsTest, AssignmentSharesAndReleases) {
  metrics::Registry registry;
  FunctionMetrics metrics(registry);
  FunctionStats f;
  FunctionStats g;
  f.record(metrics, "s", "f", Outcome::kDelivered, 1ms);
  g.record(metrics, "s", "g", Outcome::kDelivered, 1ms);
  g = f;  // g's own series had no other holder: gone
  EXPECT_FALSE(has(registry, "function=\"g\""));
  g.record(metrics, "s", "f", Outcome::kDelivered, 1ms);
  EXPECT_TRUE(has(registry, calls("s", "f", "delivered", 2)));
}

TEST(FunctionStatsTest, BeyondTheCapCallsCountInTheOverflowSeries) {
  metrics::Registry registry;
  FunctionMetrics metrics(registry, 2);
  std::vector<FunctionStats> entries(4);
  for (int i = 0; i < 4; ++i) {
    entries[i].record(metrics, "s", "f" + std::to_string(i), Outcome::kDelivered, 1ms);
  }
  EXPECT_TRUE(has(registry, calls("s", "f0", "delivered", 1)));
  EXPECT_TRUE(has(registry, calls("s", "f1", "delivered", 1)));
  EXPECT_FALSE(has(registry, "function=\"f2\""));
  EXPECT_TRUE(has(registry, calls("_other", "_other", "delivered", 2)));
  // A function with series keeps them however many there are.
  FunctionStats again;
  again.record(metrics, "s", "f0", Outcome::kDelivered, 1ms);
  EXPECT_TRUE(has(registry, calls("s", "f0", "delivered", 2)));
}

TEST(FunctionStatsTest, ASecondMetricsCountsInItsOwnRegistry) {
  metrics::Registry one;
  metrics::Registry two;
  FunctionMetrics first(one);
  FunctionMetrics second(two);
  FunctionStats stats;
  stats.record(first, "s", "f", Outcome::kDelivered, 1ms);
  stats.record(second, "s", "f", Outcome::kDelivered, 1ms);
  stats.record(second, "s", "f", Outcome::kDelivered, 1ms);
  EXPECT_TRUE(has(one, calls("s", "f", "delivered", 1)));
  // The second keeps its series (the entry holds the first's): both calls count there.
  EXPECT_TRUE(has(two, calls("s", "f", "delivered", 2)));
}

TEST(FunctionStatsTest, ManyThreadsRecordThroughOneEntryExactly) {
  metrics::Registry registry;
  FunctionMetrics metrics(registry);
  FunctionStats stats;
  constexpr int kThreads = 4;
  constexpr int kCalls = 10000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kCalls; ++i) stats.record(metrics, "s", "f", Outcome::kDelivered, 1ms);
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_TRUE(has(registry, calls("s", "f", "delivered", kThreads * kCalls)));
}

}  // namespace
}  // namespace eg::observe
