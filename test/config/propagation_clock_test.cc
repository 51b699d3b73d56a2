#include "config/propagation_clock.h"

#include <gtest/gtest.h>

namespace eg::config {
namespace {

using namespace std::chrono_literals;
using Clock = PropagationClock::Clock;

metrics::Histogram& histogramOf(metrics::Registry& registry) {
  // Registering the name again answers the clock's own histogram.
  return registry.histogram("eventgateway_config_propagation_seconds", "", {});
}

uint64_t droppedOf(metrics::Registry& registry) {
  return registry.counterFamily("eventgateway_config_propagation_dropped_total", "", {})
      .with({})
      .value();
}

TEST(PropagationClock, ObservesACommitOnceItsRevisionIsPublishedNotBefore) {
  metrics::Registry registry;
  PropagationClock clock(registry);
  auto& seconds = histogramOf(registry);
  const auto t0 = Clock::now();

  clock.published(10, t0);
  clock.committed(12, t0);
  clock.published(11, t0 + 1ms);  // an older revision: not yet
  EXPECT_EQ(seconds.count(), 0u);
  EXPECT_EQ(clock.pending(), 1u);

  clock.published(12, t0 + 3ms);
  EXPECT_EQ(seconds.count(), 1u);
  EXPECT_NEAR(seconds.sum(), 0.003, 1e-9);
  EXPECT_EQ(clock.pending(), 0u);

  clock.published(13, t0 + 9ms);  // observed once only
  EXPECT_EQ(seconds.count(), 1u);
}

TEST(PropagationClock, OnePublishCoversEveryCommitAtOrBelowItsRevision) {
  metrics::Registry registry;
  PropagationClock clock(registry);
  auto& seconds = histogramOf(registry);
  const auto t0 = Clock::now();

  clock.committed(3, t0);
  clock.committed(5, t0 + 1ms);
  clock.committed(4, t0 + 2ms);  // concurrent writes against etcd answer out of order
  clock.committed(7, t0 + 2ms);
  clock.published(5, t0 + 4ms);
  EXPECT_EQ(seconds.count(), 3u);
  EXPECT_NEAR(seconds.sum(), 0.004 + 0.003 + 0.002, 1e-9);
  EXPECT_EQ(clock.pending(), 1u);
}

TEST(PropagationClock, ACommitAlreadyPublishedCountsAsZero) {
  metrics::Registry registry;
  PropagationClock clock(registry);
  auto& seconds = histogramOf(registry);

  clock.published(8);
  clock.committed(8);
  EXPECT_EQ(seconds.count(), 1u);
  EXPECT_EQ(seconds.sum(), 0);
  EXPECT_EQ(clock.pending(), 0u);
}

TEST(PropagationClock, KeepsAtMostMaxPendingAndCountsTheOldestDropped) {
  metrics::Registry registry;
  PropagationClock clock(registry, 4);
  auto& seconds = histogramOf(registry);
  const auto t0 = Clock::now();

  for (int64_t rev = 1; rev <= 10; ++rev) clock.committed(rev, t0 + std::chrono::milliseconds(rev));
  EXPECT_EQ(clock.pending(), 4u);
  EXPECT_EQ(droppedOf(registry), 6u);

  // The four kept are the newest: revisions 7 to 10.
  clock.published(6, t0 + 20ms);
  EXPECT_EQ(seconds.count(), 0u);
  clock.published(10, t0 + 20ms);
  EXPECT_EQ(seconds.count(), 4u);
  EXPECT_NEAR(seconds.sum(), 0.013 + 0.012 + 0.011 + 0.010, 1e-9);
}

TEST(PropagationClock, RendersFineBucketsFromFiftyMicroseconds) {
  metrics::Registry registry;
  PropagationClock clock(registry);
  clock.committed(2, Clock::now());
  clock.published(2);
  const std::string text = registry.render();
  EXPECT_NE(text.find("# TYPE eventgateway_config_propagation_seconds histogram"),
            std::string::npos);
  EXPECT_NE(text.find("eventgateway_config_propagation_seconds_bucket{le=\"5e-05\"}"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("eventgateway_config_propagation_seconds_bucket{le=\"10\"}"),
            std::string::npos);
  EXPECT_NE(text.find("eventgateway_config_propagation_seconds_count 1"), std::string::npos);
  EXPECT_NE(text.find("eventgateway_config_propagation_dropped_total 0"), std::string::npos)
      << text;
}

}  // namespace
}  // namespace eg::config
