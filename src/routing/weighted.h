#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "providers/weighted/weighted_provider.h"

namespace eg::routing {

struct FunctionEntry;

// A weighted function's targets (spec §3.10), resolved once when a Snapshot is built,
// so that a call picks one with no lookup and no allocation. Immutable; points into
// the Snapshot that owns it.
struct WeightedTargets {
  struct Target {
    const FunctionEntry* function;  // in the same snapshot; never weighted itself
    std::uint64_t upTo;             // cumulative weight: draws below it, and not below
                                    // the previous target's, land here
  };
  std::vector<Target> targets;  // in the provider's order, weight 0 left out
  std::uint64_t total = 0;      // the last upTo; 0 when no target can be called
  providers::StickyBy stickyBy;
  // Keeps the targets' entries alive where they are not owned by one snapshot
  // (RoutingTable's, which share entries between versions).
  std::vector<std::shared_ptr<const FunctionEntry>> held;
};

// Where the sticky key of one call is read from (the request, the event); dispatch
// implements it for each kind of call. Asked only when a weighted function with
// `stickyBy` is called, so that other calls pay nothing for it.
class PickKey {
 public:
  virtual ~PickKey() = default;
  // The key's value for this call, or nullopt when the call has none. The view stays
  // valid until the next call of value() or the PickKey's end.
  virtual std::optional<std::string_view> value(const providers::StickyBy& by) const = 0;
};

// A call without a key (every weighted choice random).
const PickKey& noPickKey();

// One target of `weighted`, which `self` (the weighted function) owns. With a sticky
// key that `key` has, the target its hash falls on; otherwise (no stickyBy, or the call
// lacks the key) one at random, in proportion to the weights. `self` when no target
// can be called, whose invoker then fails the call saying so. Thread-safe: the random
// choice uses a per-thread generator, no lock.
const FunctionEntry& pickTarget(const WeightedTargets& weighted, const FunctionEntry& self,
                                const PickKey& key);

// The parts of the choice, for tests.
namespace weighted {
// The target a draw in [0, total) lands on.
const FunctionEntry* targetAt(const WeightedTargets& weighted, std::uint64_t draw);
// A uniform draw in [0, total), total > 0.
std::uint64_t randomDraw(std::uint64_t total);
// The draw of a sticky key: its stableHash scaled onto [0, total), total > 0. The same
// key and total give the same draw in every process and every release, so that every
// gateway instance sends a key to the same target.
std::uint64_t stickyDraw(std::string_view key, std::uint64_t total);
// FNV-1a 64 of the bytes, then MurmurHash3's 64-bit finaliser: FNV alone leaves keys
// that differ in their last byte close together, which would put "user-1" and
// "user-2" on the same target far more often than their weights say.
std::uint64_t stableHash(std::string_view key);
}  // namespace weighted

}  // namespace eg::routing
