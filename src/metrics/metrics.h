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
class Histogram {
 public:
  explicit Histogram(std::vector<double> upperBounds);
  void observe(double seconds);
  // Appends `name_bucket{le=...}`, `name_sum`, `name_count` lines with extra labels.
  void render(std::string& out, std::string_view name, std::string_view labels) const;

 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 (+Inf)
  std::atomic<uint64_t> count_{0};
  std::atomic<uint64_t> sumMicros_{0};
};

// A counter per label-value tuple. `with` returns a reference that stays valid for the
// registry's lifetime: callers on the hot path may cache it.
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

// Owns every metric; renders the Prometheus text exposition format (version 0.0.4).
// Thread-safe.
class Registry {
 public:
  CounterFamily& counterFamily(std::string name, std::string help,
                               std::vector<std::string> labelNames);
  Gauge& gauge(std::string name, std::string help);
  Histogram& histogram(std::string name, std::string help, std::vector<double> upperBounds);
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

// Default buckets for request durations, in seconds.
std::vector<double> defaultLatencyBuckets();

}  // namespace eg::metrics
