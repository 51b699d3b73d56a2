#pragma once

#include <cstddef>

#include "metrics/metrics.h"
#include "observe/function_metrics.h"
#include "observe/tail.h"

namespace eg::observe {

// | option       | default | meaning                                                  |
// |--------------|---------|----------------------------------------------------------|
// | maxFunctions | 10000   | functions with series of their own (FunctionMetrics)     |
// | tail         |         | the live tails' bounds (TailSettings)                    |
struct ObserverSettings {
  std::size_t maxFunctions = FunctionMetrics::kDefaultMaxFunctions;
  TailSettings tail = {};
};

// Where dispatch reports what became of each event (observation.h): the per-function
// metrics of every call, and the live tails of each space. One per gateway, shared by the
// Events API, which reports, and the Config API, which serves the tails. Thread-safe;
// the registry outlives it.
class Observer {
 public:
  explicit Observer(metrics::Registry& registry, ObserverSettings settings = {})
      : functions_(registry, settings.maxFunctions), tails_(registry, settings.tail) {}
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  FunctionMetrics& functions() { return functions_; }
  TailHub& tails() { return tails_; }

 private:
  FunctionMetrics functions_;
  TailHub tails_;
};

}  // namespace eg::observe
