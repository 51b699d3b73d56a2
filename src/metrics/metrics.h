#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

namespace eg::metrics {

class Counter {
 public:
  void inc(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

class Gauge {
 public:
  void set(int64_t v) { value_.store(v, std::memory_order_relaxed); }
  void add(int64_t n) { value_.fetch_add(n, std::memory_order_relaxed); }
  int64_t value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<int64_t> value_{0};
};

// Cumulative buckets in seconds, Prometheus style. Lock-free observe.
// Bounds are sorted and deduplicated; a +Inf bound is implied and dropped if given.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upperBounds);
  void observe(double seconds);
  // Appends `name_bucket{le=...}`, `name_sum`, `name_count` lines. `labels` is empty or
  // already-rendered pairs without braces (`space="a",type="b"`), placed before `le`.
  // `_count` equals the `+Inf` bucket even while other threads observe.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

  uint64_t count() const;
  double sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (+Inf), per bucket
  std::atomic<double> sum_{0};
};

// A counter per label-value tuple. `with` returns a reference that stays valid for the
// registry's lifetime: callers on the hot path may cache it. Passing a number of values
// other than the number of label names is a programming error (std::invalid_argument).
// Series render sorted by label values, so a scrape is stable.
class CounterFamily {
 public:
  CounterFamily(std::string name, std::string help, std::vector<std::string> labelNames);
  Counter& with(std::initializer_list<std::string_view> labelValues);
  void render(std::string& out) const;

 private:
  std::string name_, help_;
  std::vector<std::string> labelNames_;
  mutable std::shared_mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<Counter>, std::less<>> counters_;
};

namespace detail {
template <class T>
class LiveSeries;  // metrics.cc
}  // namespace detail

// Series that come and go with what they describe (one per function, say): a series
// lives while a handle to it does, and leaves the scrape once its last handle is
// released, so that what was deleted is no longer exported. Handles are shared_ptrs
// and may outlive the family and the registry (they then count for nobody). Series
// render sorted by label values. Thread-safe: making or finding a series takes a lock,
// counting through a handle does not. A wrong number of label values throws
// std::invalid_argument, as for CounterFamily. T is Counter or Histogram.
template <class T>
class DynamicFamily {
 public:
  ~DynamicFamily();
  // The live series of these values, made (at 0) when there is none.
  std::shared_ptr<T> series(std::initializer_list<std::string_view> labelValues);
  // The live series of these values, or null.
  std::shared_ptr<T> find(std::initializer_list<std::string_view> labelValues) const;
  std::size_t size() const;  // series alive
  void render(std::string& out) const;

 protected:
  explicit DynamicFamily(std::shared_ptr<detail::LiveSeries<T>> series);

 private:
  std::shared_ptr<detail::LiveSeries<T>> series_;
};

class DynamicCounterFamily : public DynamicFamily<Counter> {
 public:
  DynamicCounterFamily(std::string name, std::string help, std::vector<std::string> labelNames);
};

// One Histogram of the family's bounds per series.
class DynamicHistogramFamily : public DynamicFamily<Histogram> {
 public:
  DynamicHistogramFamily(std::string name, std::string help, std::vector<std::string> labelNames,
                         std::vector<double> upperBounds);
};

// Owns every metric; renders the Prometheus text exposition format (version 0.0.4).
// Thread-safe. Metrics render in registration order, collectors after them.
// Registering a name again returns the existing metric of that kind; a name reused for
// another kind, or an invalid metric or label name, throws std::invalid_argument.
class Registry {
 public:
  Registry();
  ~Registry();  // out of line: Entry is complete only in metrics.cc
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  CounterFamily& counterFamily(std::string name, std::string help,
                               std::vector<std::string> labelNames);
  Gauge& gauge(std::string name, std::string help);
  Histogram& histogram(std::string name, std::string help, std::vector<double> upperBounds);
  DynamicCounterFamily& dynamicCounterFamily(std::string name, std::string help,
                                             std::vector<std::string> labelNames);
  DynamicHistogramFamily& dynamicHistogramFamily(std::string name, std::string help,
                                                 std::vector<std::string> labelNames,
                                                 std::vector<double> upperBounds);
  // For values computed at scrape time (e.g. functions per space from the snapshot):
  // the collector appends complete exposition lines, HELP and TYPE included.
  void addCollector(std::function<void(std::string&)> collector);

  std::string render() const;

 private:
  struct Entry;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;
  std::vector<std::function<void(std::string&)>> collectors_;
};

// Default buckets for request durations, in seconds (those of the Prometheus clients).
std::vector<double> defaultLatencyBuckets();

// Label value escaping of the text format: backslash, double quote and newline.
std::string escapeLabelValue(std::string_view value);

// A sample value as the text format writes it: shortest round-trip form, `+Inf`, `-Inf`,
// `NaN`. For collectors that print their own lines.
std::string formatValue(double value);

}  // namespace eg::metrics
