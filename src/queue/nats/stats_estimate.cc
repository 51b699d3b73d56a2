#include "queue/nats/stats_estimate.h"

#include <algorithm>

namespace eg::queue::nats {

StatsEstimate::Token StatsEstimate::begin(int64_t deliveries, int64_t bytes, WallMs at) {
  std::lock_guard lock(mu_);
  const Token token = next_++;
  ops_.emplace(token, Op{deliveries, bytes, at});
  ++changes_;
  return token;
}

void StatsEstimate::confirm(Token token) {
  std::lock_guard lock(mu_);
  auto it = ops_.find(token);
  if (it == ops_.end() || it->second.confirmed) return;
  it->second.confirmed = true;
  it->second.confirmedAt = ++changes_;
}

void StatsEstimate::forget(Token token) {
  std::lock_guard lock(mu_);
  if (ops_.erase(token) > 0) ++changes_;
}

StatsEstimate::Mark StatsEstimate::startSnapshot() const {
  std::lock_guard lock(mu_);
  const bool allConfirmed =
      std::all_of(ops_.begin(), ops_.end(), [](const auto& op) { return op.second.confirmed; });
  return Mark{changes_, allConfirmed};
}

bool StatsEstimate::finishSnapshot(Mark mark, const Snapshot& snapshot, bool force) {
  std::lock_guard lock(mu_);
  const bool quiet = mark.quiet && mark.changes == changes_;
  if (!quiet && !force) return false;
  base_ = snapshot;
  // What was confirmed before the request is in the snapshot; the rest stays counted.
  std::erase_if(ops_, [&](const auto& op) {
    return op.second.confirmed && op.second.confirmedAt <= mark.changes;
  });
  changesAtBase_ = changes_;
  return true;
}

bool StatsEstimate::changedSinceSnapshot() const {
  std::lock_guard lock(mu_);
  return changes_ != changesAtBase_;
}

Stats StatsEstimate::current(WallMs now) const {
  std::lock_guard lock(mu_);
  int64_t deliveries = static_cast<int64_t>(base_.deliveries);
  int64_t bytes = static_cast<int64_t>(base_.bytes);
  WallMs oldestAdded = 0;
  for (const auto& [token, op] : ops_) {
    deliveries += op.deliveries;
    bytes += op.bytes;
    if (op.deliveries > 0 && (oldestAdded == 0 || op.at < oldestAdded)) oldestAdded = op.at;
  }
  Stats out;
  out.deliveries = static_cast<uint64_t>(std::max<int64_t>(deliveries, 0));
  out.bytes = out.deliveries == 0 ? 0 : static_cast<uint64_t>(std::max<int64_t>(bytes, 0));
  if (out.deliveries > 0) {
    const WallMs oldest = base_.deliveries > 0 && base_.firstMs > 0 ? base_.firstMs : oldestAdded;
    if (oldest > 0) out.oldestSeconds = std::max<double>(0, (now - oldest) / 1000.0);
  }
  return out;
}

}  // namespace eg::queue::nats
