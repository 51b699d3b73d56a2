#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <vector>

#include "metrics/metrics.h"

namespace eg::config {

// Times how long a Config API write takes to reach routing: from the moment the store
// committed it (committed(), called just before the answer goes out) until this instance
// publishes a routing snapshot at that revision or a later one (published(), called by
// the configuration cache after each publish). Observed into
// eventgateway_config_propagation_seconds.
//
// At most `maxPending` commits wait for their snapshot; beyond, the oldest is dropped
// and counted in eventgateway_config_propagation_dropped_total. A commit at or below
// the last published revision (the snapshot was out before the answer) counts as 0.
// Thread-safe; the registry must outlive the clock.
class PropagationClock {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::size_t kMaxPending = 10000;

  explicit PropagationClock(metrics::Registry& registry, std::size_t maxPending = kMaxPending);

  void committed(int64_t revision, Clock::time_point at = Clock::now());
  void published(int64_t revision, Clock::time_point at = Clock::now());

  // Commits still waiting for their snapshot.
  std::size_t pending() const;

  // 50 µs to 10 s: an incremental update is measured in microseconds, a full rebuild
  // of a large table in seconds.
  static std::vector<double> buckets();

 private:
  struct Commit {
    int64_t revision;
    Clock::time_point at;
  };

  metrics::Histogram& seconds_;
  metrics::Counter& dropped_;
  const std::size_t maxPending_;

  mutable std::mutex mu_;
  std::deque<Commit> pending_;  // sorted by revision
  int64_t published_ = -1;      // the highest revision published so far
};

}  // namespace eg::config
