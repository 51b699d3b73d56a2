#include "observe/function_metrics.h"

namespace eg::observe {
namespace {

std::atomic<uint64_t> nextOwner{1};

// Index into FunctionSeries::calls_, or -1 for what is not a call.
int callIndex(Outcome outcome) {
  switch (outcome) {
    case Outcome::kDelivered: return 0;
    case Outcome::kFailed: return 1;
    case Outcome::kRetrying: return 2;
    case Outcome::kDeadLettered: return 3;
    case Outcome::kReceived: return -1;
  }
  return -1;
}

constexpr std::string_view kCallOutcomes[4] = {"delivered", "failed", "retrying", "deadlettered"};

}  // namespace

std::vector<double> functionDurationBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

void FunctionSeries::record(Outcome outcome, std::chrono::nanoseconds latency) {
  const int index = callIndex(outcome);
  if (index < 0) return;
  calls_[index]->inc();
  duration_->observe(std::chrono::duration<double>(latency).count());
}

void FunctionSeries::release() {
  if (refs_.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
}

FunctionMetrics::FunctionMetrics(metrics::Registry& registry, std::size_t maxFunctions)
    : calls_(registry.dynamicCounterFamily(
          "eventgateway_function_calls_total",
          "Function calls, by space, function and outcome (delivered, failed, retrying, "
          "deadlettered).",
          {"space", "function", "outcome"})),
      duration_(registry.dynamicHistogramFamily("eventgateway_function_duration_seconds",
                                                "Duration of function calls.",
                                                {"space", "function"},
                                                functionDurationBuckets())),
      maxFunctions_(maxFunctions),
      id_(nextOwner.fetch_add(1, std::memory_order_relaxed)) {}

FunctionSeries* FunctionMetrics::make(std::string_view space, std::string_view functionId) {
  auto* series = new FunctionSeries();
  series->owner_ = id_;
  std::lock_guard lock(mu_);
  // A function whose series live keeps them; a new one over the cap shares the overflow.
  if (!duration_.find({space, functionId}) && duration_.size() >= maxFunctions_) {
    space = kOverflowLabel;
    functionId = kOverflowLabel;
  }
  for (std::size_t i = 0; i < std::size(kCallOutcomes); ++i) {
    series->calls_[i] = calls_.series({space, functionId, kCallOutcomes[i]});
  }
  series->duration_ = duration_.series({space, functionId});
  return series;
}

FunctionMetrics::~FunctionMetrics() {
  for (auto& [key, series] : foreign_) series->release();
}

FunctionSeries& FunctionMetrics::foreign(std::string_view space, std::string_view functionId) {
  std::pair<std::string, std::string> key(space, functionId);
  {
    std::lock_guard lock(mu_);
    if (auto it = foreign_.find(key); it != foreign_.end()) return *it->second;
  }
  FunctionSeries* made = make(space, functionId);
  std::lock_guard lock(mu_);
  auto [it, inserted] = foreign_.emplace(std::move(key), made);
  if (!inserted) made->release();
  return *it->second;
}

FunctionStats::FunctionStats(const FunctionStats& other) {
  FunctionSeries* series = other.series_.load(std::memory_order_acquire);
  if (series != nullptr) series->retain();
  series_.store(series, std::memory_order_release);
}

FunctionStats& FunctionStats::operator=(const FunctionStats& other) {
  if (this == &other) return *this;
  FunctionSeries* series = other.series_.load(std::memory_order_acquire);
  if (series != nullptr) series->retain();
  if (FunctionSeries* old = series_.exchange(series, std::memory_order_acq_rel)) old->release();
  return *this;
}

FunctionStats::~FunctionStats() {
  if (FunctionSeries* series = series_.load(std::memory_order_acquire)) series->release();
}

void FunctionStats::recordSlow(FunctionMetrics& metrics, std::string_view space,
                               std::string_view functionId, Outcome outcome,
                               std::chrono::nanoseconds latency) const {
  FunctionSeries* held = series_.load(std::memory_order_acquire);
  if (held == nullptr) {
    FunctionSeries* made = metrics.make(space, functionId);
    if (series_.compare_exchange_strong(held, made, std::memory_order_acq_rel,
                                        std::memory_order_acquire)) {
      made->record(outcome, latency);
      return;
    }
    made->release();  // another thread set it first: `held` is that one
  }
  if (held->owner_ == metrics.id_) {
    held->record(outcome, latency);
    return;
  }
  // Made by another FunctionMetrics (a second dispatcher on the same configuration, in
  // tests): counted in series this one holds.
  metrics.foreign(space, functionId).record(outcome, latency);
}

}  // namespace eg::observe
