#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "metrics/metrics.h"
#include "observe/observation.h"

namespace eg::observe {

// The label values calls beyond FunctionMetrics' cap count under (space and function).
inline constexpr std::string_view kOverflowLabel = "_other";

// Buckets of eventgateway_function_duration_seconds: 1 ms to 30 s.
std::vector<double> functionDurationBuckets();

// The series of one function: eventgateway_function_calls_total{space,function,outcome}
// for the four outcomes a call ends in, and eventgateway_function_duration_seconds.
// Reference counted by the routing entries of the function (FunctionStats): the series
// stay in the scrape while one of them lives, and leave it with the last (the function
// was deleted and the snapshots that had it are gone). Counting takes no lock.
class FunctionSeries {
 public:
  FunctionSeries(const FunctionSeries&) = delete;
  FunctionSeries& operator=(const FunctionSeries&) = delete;

  // One call that ended in `outcome` (kReceived counts nothing), and how long it took.
  void record(Outcome outcome, std::chrono::nanoseconds latency);

 private:
  friend class FunctionMetrics;
  friend class FunctionStats;
  FunctionSeries() = default;
  void retain() { refs_.fetch_add(1, std::memory_order_relaxed); }
  void release();

  std::atomic<uint32_t> refs_{1};
  uint64_t owner_ = 0;  // the FunctionMetrics that made it
  // delivered, failed, retrying, deadlettered
  std::shared_ptr<metrics::Counter> calls_[4];
  std::shared_ptr<metrics::Histogram> duration_;
};

// | option       | default | meaning                                                       |
// |--------------|---------|---------------------------------------------------------------|
// | maxFunctions | 10000   | functions with series of their own at once; the calls of any  |
// |              |         | other count in the one overflow series, space and function    |
// |              |         | "_other", until a function's series are gone and it is called |
// |              |         | again                                                         |
//
// Owns the two families in the registry; a function gets its series on its first call.
// Thread-safe; the registry outlives it.
class FunctionMetrics {
 public:
  static constexpr std::size_t kDefaultMaxFunctions = 10'000;

  explicit FunctionMetrics(metrics::Registry& registry,
                           std::size_t maxFunctions = kDefaultMaxFunctions);
  ~FunctionMetrics();
  FunctionMetrics(const FunctionMetrics&) = delete;
  FunctionMetrics& operator=(const FunctionMetrics&) = delete;

  // The series of (space, functionId) (the same ones while they live), or the overflow's
  // beyond maxFunctions; the caller holds one reference.
  FunctionSeries* make(std::string_view space, std::string_view functionId);

 private:
  friend class FunctionStats;
  // The series of (space, functionId) for routing entries whose FunctionStats hold another
  // FunctionMetrics' series: held here until this one goes (only where two dispatchers
  // share a configuration, in tests).
  FunctionSeries& foreign(std::string_view space, std::string_view functionId);

  metrics::DynamicCounterFamily& calls_;
  metrics::DynamicHistogramFamily& duration_;
  const std::size_t maxFunctions_;
  std::mutex mu_;  // the cap is checked and a series made in one step; foreign_
  const uint64_t id_;
  std::map<std::pair<std::string, std::string>, FunctionSeries*> foreign_;
};

// A routing entry's handle on its function's series (routing::FunctionEntry::stats):
// empty until the first call, which finds or makes them; then a call costs one load and
// the counting. A copy shares the series, so that the entry replacing a changed function
// keeps counting in them. Thread-safe.
class FunctionStats {
 public:
  FunctionStats() = default;
  FunctionStats(const FunctionStats& other);
  FunctionStats& operator=(const FunctionStats& other);
  ~FunctionStats();

  void record(FunctionMetrics& metrics, std::string_view space, std::string_view functionId,
              Outcome outcome, std::chrono::nanoseconds latency) const;

 private:
  void recordSlow(FunctionMetrics& metrics, std::string_view space, std::string_view functionId,
                  Outcome outcome, std::chrono::nanoseconds latency) const;

  mutable std::atomic<FunctionSeries*> series_{nullptr};
};

inline void FunctionStats::record(FunctionMetrics& metrics, std::string_view space,
                                  std::string_view functionId, Outcome outcome,
                                  std::chrono::nanoseconds latency) const {
  FunctionSeries* series = series_.load(std::memory_order_acquire);
  if (series != nullptr && series->owner_ == metrics.id_) [[likely]] {
    series->record(outcome, latency);
    return;
  }
  recordSlow(metrics, space, functionId, outcome, latency);
}

}  // namespace eg::observe
