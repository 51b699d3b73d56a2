#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "events/filter.h"
#include "limits/function_limiter.h"
#include "model/resources.h"
#include "observe/function_metrics.h"
#include "providers/provider.h"
#include "routing/weighted.h"

namespace eg::routing {

struct FunctionEntry {
  model::Function function;
  // Built by the provider registry; null when the function's type is unknown.
  std::shared_ptr<const providers::Invoker> invoker;
  // A weighted function's targets, resolved by the snapshot that holds this entry;
  // null for every other function.
  std::shared_ptr<const WeightedTargets> weighted = nullptr;
  // The state of its `limits`, kept while its stored value stays (ConfigCache); null
  // when it has none. Shared, mutable: every call of the function takes room in it.
  std::shared_ptr<limits::FunctionLimiter> limiter = nullptr;
  // The store revision of the function's value (0 where unknown).
  int64_t modRevision = 0;
  // Its series of eventgateway_function_* (made on its first call), shared with the
  // entries that replace it while it exists (ConfigCache), so that they count on.
  observe::FunctionStats stats = {};
};

// The function a call of `function` goes to: itself, or for a weighted function the
// target picked for this call (routing/weighted.h). For any other function this is one
// branch, so that every call site can go through it.
inline const FunctionEntry& pick(const FunctionEntry& function, const PickKey& key) {
  if (function.weighted == nullptr) [[likely]] return function;
  return pickTarget(*function.weighted, function, key);
}

// A subscription with its resolved function (same space). Pointers point into the
// Snapshot that returned them and live as long as it does.
struct Route {
  const model::Subscription* subscription = nullptr;
  const FunctionEntry* function = nullptr;
  // An async route's compiled `filters` (spec §3.9); null when it has none.
  const events::Filter* filter = nullptr;
};

using PathParams = std::vector<std::pair<std::string, std::string>>;

struct SyncMatch {
  Route route;
  PathParams params;  // values of ":name" and "*name" segments
};

struct SpaceCounts {
  std::size_t functions = 0;
  std::size_t eventTypes = 0;
  std::size_t subscriptions = 0;
};

// An immutable view of all configuration at one store revision. The Events API routes
// on it without locks; a new one is published (shared_ptr<const Snapshot>) when the
// configuration changes, sharing everything the change did not touch (routing_table.h). Resources in it carry no `metadata` (ConfigCache leaves it out)
// and no `filters` (compiled into their routes).
class Snapshot {
 public:
  virtual ~Snapshot() = default;

  virtual int64_t revision() const = 0;

  // The sync subscription for (method, path, eventType); its path may hold
  // ":param" segments and a final "*wildcard".
  virtual std::optional<SyncMatch> findSync(std::string_view method, std::string_view path,
                                            std::string_view eventType) const = 0;
  // Async subscribers of every space whose method, path (exact) and event type match.
  virtual std::span<const Route> findAsync(std::string_view method, std::string_view path,
                                           std::string_view eventType) const = 0;
  // The routed subscription `subscriptionId` of `space` (any type), or null: how a
  // queued delivery finds its subscriber again.
  virtual const Route* findSubscription(std::string_view space,
                                        std::string_view subscriptionId) const = 0;
  // Gen 1: the invoke subscription of `functionId` in `space` on `path`, or null.
  virtual const Route* findInvoke(std::string_view space, std::string_view functionId,
                                  std::string_view path) const = 0;

  virtual const model::EventType* eventType(std::string_view space,
                                            std::string_view name) const = 0;
  virtual const FunctionEntry* function(std::string_view space, std::string_view id) const = 0;

  // CORS rules for a request to (method, path): from a CORS resource, else from a
  // Gen 1 http subscription's `cors`. Paths may hold parameters. Null when none.
  virtual const model::CorsRules* cors(std::string_view method, std::string_view path) const = 0;

  // Resource counts per space, for metrics.
  virtual std::map<std::string, SpaceCounts, std::less<>> counts() const = 0;
};

}  // namespace eg::routing
