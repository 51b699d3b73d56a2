#include "metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <stdexcept>
#include <type_traits>

namespace eg::metrics {
namespace {

bool isMetricName(std::string_view name) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

// `__` prefixes are reserved for Prometheus itself; `le` would clash with histogram buckets.
bool isLabelName(std::string_view name) {
  if (name.empty() || name.starts_with("__") || name == "le") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    const bool digit = c >= '0' && c <= '9';
    if (!alpha && !(digit && i > 0)) return false;
  }
  return true;
}

void checkMetricName(std::string_view name) {
  if (!isMetricName(name)) throw std::invalid_argument("invalid metric name: " + std::string(name));
}

// HELP text escapes only backslash and newline (quotes stay as they are).
void appendHelp(std::string& out, std::string_view name, std::string_view help,
                std::string_view type) {
  out.append("# HELP ").append(name).push_back(' ');
  for (char c : help) {
    if (c == '\\') {
      out.append("\\\\");
    } else if (c == '\n') {
      out.append("\\n");
    } else {
      out.push_back(c);
    }
  }
  out.append("\n# TYPE ").append(name).push_back(' ');
  out.append(type).push_back('\n');
}

void appendEscaped(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\': out.append("\\\\"); break;
      case '"': out.append("\\\""); break;
      case '\n': out.append("\\n"); break;
      default: out.push_back(c);
    }
  }
}

}  // namespace

std::string escapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  appendEscaped(out, value);
  return out;
}

std::string formatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  return std::string(buf, ec == std::errc() ? end : buf);
}

std::vector<double> defaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

// ---------------------------------------------------------------------------------------
// Histogram

Histogram::Histogram(std::vector<double> upperBounds) : bounds_(std::move(upperBounds)) {
  std::erase_if(bounds_, [](double b) { return std::isnan(b) || std::isinf(b); });
  std::sort(bounds_.begin(), bounds_.end());
  bounds_.erase(std::unique(bounds_.begin(), bounds_.end()), bounds_.end());
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
}

void Histogram::observe(double seconds) {
  // Buckets are "less than or equal": the first bound not below the value takes it.
  // NaN compares false with everything and lands in +Inf, without poisoning the sum.
  size_t index = bounds_.size();
  if (!std::isnan(seconds)) {
    index = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), seconds) -
                                bounds_.begin());
    sum_.fetch_add(seconds, std::memory_order_relaxed);
  }
  counts_[index].fetch_add(1, std::memory_order_relaxed);
}

uint64_t Histogram::count() const {
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) total += counts_[i].load(std::memory_order_relaxed);
  return total;
}

void Histogram::render(std::string& out, std::string_view name, std::string_view labels) const {
  // One snapshot of the per-bucket counts, so the cumulative series is monotonic and
  // `_count` matches `+Inf` even under concurrent observations.
  std::vector<uint64_t> snapshot(bounds_.size() + 1);
  for (size_t i = 0; i < snapshot.size(); ++i) {
    snapshot[i] = counts_[i].load(std::memory_order_relaxed);
  }
  const std::string prefix = labels.empty() ? std::string() : std::string(labels) + ",";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < snapshot.size(); ++i) {
    cumulative += snapshot[i];
    out.append(name).append("_bucket{").append(prefix).append("le=\"");
    out.append(i < bounds_.size() ? formatValue(bounds_[i]) : "+Inf");
    out.append("\"} ").append(std::to_string(cumulative)).push_back('\n');
  }
  const std::string braces = labels.empty() ? std::string() : "{" + std::string(labels) + "}";
  out.append(name).append("_sum").append(braces).push_back(' ');
  out.append(formatValue(sum())).push_back('\n');
  out.append(name).append("_count").append(braces).push_back(' ');
  out.append(std::to_string(cumulative)).push_back('\n');
}

// ---------------------------------------------------------------------------------------
// CounterFamily

namespace {

// Looks a series up by the caller's string_views without building a key of std::strings;
// found through ADL by the map's transparent comparator.
bool lessView(std::string_view a, std::string_view b) { return a < b; }

struct ValuesView {
  std::initializer_list<std::string_view> values;

  friend bool operator<(const std::vector<std::string>& a, const ValuesView& b) {
    return std::lexicographical_compare(a.begin(), a.end(), b.values.begin(), b.values.end(),
                                        lessView);
  }
  friend bool operator<(const ValuesView& a, const std::vector<std::string>& b) {
    return std::lexicographical_compare(a.values.begin(), a.values.end(), b.begin(), b.end(),
                                        lessView);
  }
};

}  // namespace

CounterFamily::CounterFamily(std::string name, std::string help,
                             std::vector<std::string> labelNames)
    : name_(std::move(name)), help_(std::move(help)), labelNames_(std::move(labelNames)) {
  checkMetricName(name_);
  for (const auto& label : labelNames_) {
    if (!isLabelName(label)) throw std::invalid_argument("invalid label name: " + label);
  }
}

Counter& CounterFamily::with(std::initializer_list<std::string_view> labelValues) {
  if (labelValues.size() != labelNames_.size()) {
    throw std::invalid_argument(name_ + ": expected " + std::to_string(labelNames_.size()) +
                                " label values, got " + std::to_string(labelValues.size()));
  }
  const ValuesView key{labelValues};
  {
    std::shared_lock lock(mu_);
    if (auto it = counters_.find(key); it != counters_.end()) return *it->second;
  }
  std::unique_lock lock(mu_);
  // Another thread may have created the series between the two locks.
  if (auto it = counters_.find(key); it != counters_.end()) return *it->second;
  std::vector<std::string> values(labelValues.begin(), labelValues.end());
  auto [it, inserted] = counters_.emplace(std::move(values), std::make_unique<Counter>());
  return *it->second;
}

void CounterFamily::render(std::string& out) const {
  appendHelp(out, name_, help_, "counter");
  std::shared_lock lock(mu_);
  for (const auto& [values, counter] : counters_) {
    out.append(name_);
    if (!labelNames_.empty()) {
      out.push_back('{');
      for (size_t i = 0; i < labelNames_.size(); ++i) {
        if (i > 0) out.push_back(',');
        out.append(labelNames_[i]).append("=\"");
        appendEscaped(out, values[i]);
        out.push_back('"');
      }
      out.push_back('}');
    }
    out.push_back(' ');
    out.append(std::to_string(counter->value())).push_back('\n');
  }
}

// ---------------------------------------------------------------------------------------
// Dynamic families

namespace {

void checkLabelNames(const std::vector<std::string>& labelNames) {
  for (const auto& label : labelNames) {
    if (!isLabelName(label)) throw std::invalid_argument("invalid label name: " + label);
  }
}

// `a="x",b="y"`: the pairs of a series, without braces.
void appendPairs(std::string& out, const std::vector<std::string>& names,
                 const std::vector<std::string>& values) {
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out.push_back(',');
    out.append(names[i]).append("=\"");
    appendEscaped(out, values[i]);
    out.push_back('"');
  }
}

void renderSeries(std::string& out, std::string_view name, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const Counter& counter) {
  out.append(name);
  if (!names.empty()) {
    out.push_back('{');
    appendPairs(out, names, values);
    out.push_back('}');
  }
  out.push_back(' ');
  out.append(std::to_string(counter.value())).push_back('\n');
}

void renderSeries(std::string& out, std::string_view name, const std::vector<std::string>& names,
                  const std::vector<std::string>& values, const Histogram& histogram) {
  std::string pairs;
  appendPairs(pairs, names, values);
  histogram.render(out, name, pairs);
}

}  // namespace

namespace detail {

// The series of a dynamic family, each held weakly: its handles own it. A handle's
// deleter takes the series out of the map (under the lock) before freeing it, so that
// every series the map points to is alive while the lock is held: render reads them
// through raw pointers, and never drops a handle under the lock (the deleter would
// take it again).
template <class T>
class LiveSeries : public std::enable_shared_from_this<LiveSeries<T>> {
 public:
  LiveSeries(std::string name, std::string help, std::vector<std::string> labelNames,
             std::function<T*()> make)
      : name_(std::move(name)),
        help_(std::move(help)),
        labelNames_(std::move(labelNames)),
        make_(std::move(make)) {
    checkMetricName(name_);
    checkLabelNames(labelNames_);
  }

  std::shared_ptr<T> get(std::initializer_list<std::string_view> labelValues, bool create) {
    if (labelValues.size() != labelNames_.size()) {
      throw std::invalid_argument(name_ + ": expected " + std::to_string(labelNames_.size()) +
                                  " label values, got " + std::to_string(labelValues.size()));
    }
    std::vector<std::string> key(labelValues.begin(), labelValues.end());
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end()) {
      if (auto alive = it->second.handle.lock()) return alive;
    }
    if (!create) return nullptr;
    // A series whose last handle is going (its deleter waits for the lock) is replaced;
    // that deleter then leaves the new one in place.
    T* raw = make_();
    std::shared_ptr<T> handle(raw, [core = this->weak_from_this(), key](T* p) {
      if (auto live = core.lock()) live->release(key, p);
      delete p;
    });
    if (it == entries_.end()) it = entries_.emplace(std::move(key), Entry{}).first;
    it->second.handle = handle;
    it->second.raw = raw;
    return handle;
  }

  std::size_t size() const {
    std::lock_guard lock(mu_);
    return entries_.size();
  }

  void render(std::string& out, std::string_view type) const {
    appendHelp(out, name_, help_, type);
    std::lock_guard lock(mu_);
    for (const auto& [values, entry] : entries_) {
      renderSeries(out, name_, labelNames_, values, *entry.raw);
    }
  }

 private:
  struct Entry {
    std::weak_ptr<T> handle;
    T* raw = nullptr;
  };

  void release(const std::vector<std::string>& key, T* p) {
    std::lock_guard lock(mu_);
    auto it = entries_.find(key);
    if (it != entries_.end() && it->second.raw == p) entries_.erase(it);
  }

  const std::string name_, help_;
  const std::vector<std::string> labelNames_;
  const std::function<T*()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, Entry> entries_;
};

}  // namespace detail

template <class T>
DynamicFamily<T>::DynamicFamily(std::shared_ptr<detail::LiveSeries<T>> series)
    : series_(std::move(series)) {}

template <class T>
DynamicFamily<T>::~DynamicFamily() = default;

template <class T>
std::shared_ptr<T> DynamicFamily<T>::series(std::initializer_list<std::string_view> labelValues) {
  return series_->get(labelValues, true);
}

template <class T>
std::shared_ptr<T> DynamicFamily<T>::find(
    std::initializer_list<std::string_view> labelValues) const {
  return series_->get(labelValues, false);
}

template <class T>
std::size_t DynamicFamily<T>::size() const {
  return series_->size();
}

template <class T>
void DynamicFamily<T>::render(std::string& out) const {
  series_->render(out, std::is_same_v<T, Counter> ? "counter" : "histogram");
}

template class DynamicFamily<Counter>;
template class DynamicFamily<Histogram>;

DynamicCounterFamily::DynamicCounterFamily(std::string name, std::string help,
                                           std::vector<std::string> labelNames)
    : DynamicFamily(std::make_shared<detail::LiveSeries<Counter>>(
          std::move(name), std::move(help), std::move(labelNames), [] { return new Counter(); })) {}

DynamicHistogramFamily::DynamicHistogramFamily(std::string name, std::string help,
                                               std::vector<std::string> labelNames,
                                               std::vector<double> upperBounds)
    : DynamicFamily(std::make_shared<detail::LiveSeries<Histogram>>(
          std::move(name), std::move(help), std::move(labelNames),
          [bounds = std::move(upperBounds)] { return new Histogram(bounds); })) {}

// ---------------------------------------------------------------------------------------
// Registry

struct Registry::Entry {
  enum class Kind { kCounter, kGauge, kHistogram, kDynamicCounter, kDynamicHistogram };
  Kind kind;
  std::string name;
  std::string help;
  std::unique_ptr<CounterFamily> family;
  std::unique_ptr<Gauge> gauge;
  std::unique_ptr<Histogram> histogram;
  std::unique_ptr<DynamicCounterFamily> dynamicCounters;
  std::unique_ptr<DynamicHistogramFamily> dynamicHistograms;

  static const char* kindName(Kind kind) {
    switch (kind) {
      case Kind::kCounter: return "counter";
      case Kind::kGauge: return "gauge";
      case Kind::kHistogram: return "histogram";
      case Kind::kDynamicCounter: return "dynamic counter family";
      case Kind::kDynamicHistogram: return "dynamic histogram family";
    }
    return "metric";
  }

  // The entry already registered under `name`, or null; a different kind is a
  // programming error.
  static Entry* find(const std::vector<std::unique_ptr<Entry>>& entries, const std::string& name,
                     Kind kind) {
    for (const auto& e : entries) {
      if (e->name != name) continue;
      if (e->kind != kind) {
        throw std::invalid_argument("metric " + name + " already registered as a " +
                                    kindName(e->kind));
      }
      return e.get();
    }
    return nullptr;
  }
};

Registry::Registry() = default;
Registry::~Registry() = default;

CounterFamily& Registry::counterFamily(std::string name, std::string help,
                                       std::vector<std::string> labelNames) {
  std::lock_guard lock(mu_);
  if (Entry* e = Entry::find(entries_, name, Entry::Kind::kCounter)) return *e->family;
  auto entry = std::make_unique<Entry>();
  entry->kind = Entry::Kind::kCounter;
  entry->name = name;
  entry->family =
      std::make_unique<CounterFamily>(std::move(name), std::move(help), std::move(labelNames));
  entries_.push_back(std::move(entry));
  return *entries_.back()->family;
}

Gauge& Registry::gauge(std::string name, std::string help) {
  checkMetricName(name);
  std::lock_guard lock(mu_);
  if (Entry* e = Entry::find(entries_, name, Entry::Kind::kGauge)) return *e->gauge;
  auto entry = std::make_unique<Entry>();
  entry->kind = Entry::Kind::kGauge;
  entry->name = std::move(name);
  entry->help = std::move(help);
  entry->gauge = std::make_unique<Gauge>();
  entries_.push_back(std::move(entry));
  return *entries_.back()->gauge;
}

Histogram& Registry::histogram(std::string name, std::string help,
                               std::vector<double> upperBounds) {
  checkMetricName(name);
  std::lock_guard lock(mu_);
  if (Entry* e = Entry::find(entries_, name, Entry::Kind::kHistogram)) return *e->histogram;
  auto entry = std::make_unique<Entry>();
  entry->kind = Entry::Kind::kHistogram;
  entry->name = std::move(name);
  entry->help = std::move(help);
  entry->histogram = std::make_unique<Histogram>(std::move(upperBounds));
  entries_.push_back(std::move(entry));
  return *entries_.back()->histogram;
}

DynamicCounterFamily& Registry::dynamicCounterFamily(std::string name, std::string help,
                                                     std::vector<std::string> labelNames) {
  std::lock_guard lock(mu_);
  if (Entry* e = Entry::find(entries_, name, Entry::Kind::kDynamicCounter)) {
    return *e->dynamicCounters;
  }
  auto entry = std::make_unique<Entry>();
  entry->kind = Entry::Kind::kDynamicCounter;
  entry->name = name;
  entry->dynamicCounters = std::make_unique<DynamicCounterFamily>(
      std::move(name), std::move(help), std::move(labelNames));
  entries_.push_back(std::move(entry));
  return *entries_.back()->dynamicCounters;
}

DynamicHistogramFamily& Registry::dynamicHistogramFamily(std::string name, std::string help,
                                                         std::vector<std::string> labelNames,
                                                         std::vector<double> upperBounds) {
  std::lock_guard lock(mu_);
  if (Entry* e = Entry::find(entries_, name, Entry::Kind::kDynamicHistogram)) {
    return *e->dynamicHistograms;
  }
  auto entry = std::make_unique<Entry>();
  entry->kind = Entry::Kind::kDynamicHistogram;
  entry->name = name;
  entry->dynamicHistograms = std::make_unique<DynamicHistogramFamily>(
      std::move(name), std::move(help), std::move(labelNames), std::move(upperBounds));
  entries_.push_back(std::move(entry));
  return *entries_.back()->dynamicHistograms;
}

void Registry::addCollector(std::function<void(std::string&)> collector) {
  std::lock_guard lock(mu_);
  collectors_.push_back(std::move(collector));
}

std::string Registry::render() const {
  // Entries are never removed, so their addresses outlive the lock; rendering and the
  // collectors run unlocked, letting a collector register metrics without deadlock.
  std::vector<const Entry*> entries;
  std::vector<std::function<void(std::string&)>> collectors;
  {
    std::lock_guard lock(mu_);
    entries.reserve(entries_.size());
    for (const auto& e : entries_) entries.push_back(e.get());
    collectors = collectors_;
  }
  std::string out;
  for (const Entry* e : entries) {
    switch (e->kind) {
      case Entry::Kind::kCounter:
        e->family->render(out);
        break;
      case Entry::Kind::kGauge:
        appendHelp(out, e->name, e->help, "gauge");
        out.append(e->name).push_back(' ');
        out.append(std::to_string(e->gauge->value())).push_back('\n');
        break;
      case Entry::Kind::kHistogram:
        appendHelp(out, e->name, e->help, "histogram");
        e->histogram->render(out, e->name, "");
        break;
      case Entry::Kind::kDynamicCounter:
        e->dynamicCounters->render(out);
        break;
      case Entry::Kind::kDynamicHistogram:
        e->dynamicHistograms->render(out);
        break;
    }
  }
  for (const auto& collect : collectors) collect(out);
  return out;
}

}  // namespace eg::metrics
