#include "config/propagation_clock.h"

#include <algorithm>
#include <stdexcept>

namespace eg::config {
namespace {

double secondsBetween(PropagationClock::Clock::time_point from,
                      PropagationClock::Clock::time_point to) {
  return std::max(0.0, std::chrono::duration<double>(to - from).count());
}

}  // namespace

std::vector<double> PropagationClock::buckets() {
  return {0.00005, 0.0001, 0.0002, 0.0003, 0.0005, 0.00075, 0.001, 0.002, 0.005, 0.01,
          0.02,    0.05,   0.1,    0.2,    0.5,    1,       2,     5,     10};
}

PropagationClock::PropagationClock(metrics::Registry& registry, std::size_t maxPending)
    : seconds_(registry.histogram(
          "eventgateway_config_propagation_seconds",
          "Time from a Config API write's commit until this instance routes on a snapshot "
          "that holds it.",
          buckets())),
      dropped_(registry
                   .counterFamily("eventgateway_config_propagation_dropped_total",
                                  "Config API writes left unmeasured: more were waiting for "
                                  "their snapshot than the clock keeps.",
                                  {})
                   .with({})),
      maxPending_(maxPending) {
  if (maxPending_ == 0) throw std::invalid_argument("PropagationClock: maxPending must be >= 1");
}

void PropagationClock::committed(int64_t revision, Clock::time_point at) {
  std::lock_guard lock(mu_);
  if (revision <= published_) {
    seconds_.observe(0);
    return;
  }
  if (pending_.size() >= maxPending_) {
    pending_.pop_front();
    dropped_.inc();
  }
  // Against one store writer (embedded) commits come in revision order; against etcd,
  // concurrent writes may answer out of order, so the place is searched from the back.
  auto it = pending_.end();
  while (it != pending_.begin() && std::prev(it)->revision > revision) --it;
  pending_.insert(it, Commit{revision, at});
}

void PropagationClock::published(int64_t revision, Clock::time_point at) {
  std::lock_guard lock(mu_);
  published_ = std::max(published_, revision);
  while (!pending_.empty() && pending_.front().revision <= revision) {
    seconds_.observe(secondsBetween(pending_.front().at, at));
    pending_.pop_front();
  }
}

std::size_t PropagationClock::pending() const {
  std::lock_guard lock(mu_);
  return pending_.size();
}

}  // namespace eg::config
