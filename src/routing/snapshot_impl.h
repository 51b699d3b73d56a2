#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/filter.h"
#include "model/resources.h"
#include "providers/provider.h"
#include "routing/path_tree.h"
#include "routing/snapshot.h"

namespace eg::routing {

// Everything a snapshot is built from, in a deterministic order (by store key).
struct SnapshotContents {
  int64_t revision = 0;
  std::vector<FunctionEntry> functions;  // invokers already built (or null)
  std::vector<model::EventType> eventTypes;
  std::vector<model::Subscription> subscriptions;
  std::vector<model::Cors> cors;
};

// Builds the function's invoker with the registry; null (logged) when the type is unknown
// or the factory refuses the function.
std::shared_ptr<const providers::Invoker> makeInvoker(const model::Function& function,
                                                      const providers::ProviderRegistry& registry);

// Builds an immutable snapshot. Subscriptions whose function is missing are skipped
// (debug log) but counted; a sync route that duplicates one already taken (same method,
// path and event type in another space) is skipped with a warning; a weighted
// function's targets that are missing or weighted themselves are left out of its
// choice (warning).
std::shared_ptr<const Snapshot> buildSnapshot(SnapshotContents contents);

// Ordering of string tuples that accepts std::string and std::string_view elements alike,
// so lookups build no temporary strings.
struct StringTupleLess {
  using is_transparent = void;
  template <class A, class B>
  bool operator()(const A& a, const B& b) const {
    static_assert(std::tuple_size_v<A> == std::tuple_size_v<B>);
    for (std::size_t i = 0; i < std::tuple_size_v<A>; ++i) {
      const std::string_view x = a[i];
      const std::string_view y = b[i];
      if (const int c = x.compare(y); c != 0) return c < 0;
    }
    return false;
  }
};

class SnapshotImpl final : public Snapshot {
 public:
  explicit SnapshotImpl(SnapshotContents contents);
  SnapshotImpl(const SnapshotImpl&) = delete;
  SnapshotImpl& operator=(const SnapshotImpl&) = delete;

  int64_t revision() const override { return revision_; }
  std::optional<SyncMatch> findSync(std::string_view method, std::string_view path,
                                    std::string_view eventType) const override;
  std::span<const Route> findAsync(std::string_view method, std::string_view path,
                                   std::string_view eventType) const override;
  const Route* findSubscription(std::string_view space,
                                std::string_view subscriptionId) const override;
  const Route* findInvoke(std::string_view space, std::string_view functionId,
                          std::string_view path) const override;
  const model::EventType* eventType(std::string_view space,
                                    std::string_view name) const override;
  const FunctionEntry* function(std::string_view space, std::string_view id) const override;
  const model::CorsRules* cors(std::string_view method, std::string_view path) const override;
  std::map<std::string, SpaceCounts, std::less<>> counts() const override {
    return counts_;
  }

 private:
  // Points each weighted function at its targets' entries (functions_ is complete and
  // its nodes no longer move).
  void resolveWeighted();

  template <class V>
  using BySpace = std::map<std::string, std::map<std::string, V, std::less<>>, std::less<>>;
  using Key3 = std::array<std::string, 3>;

  int64_t revision_;
  BySpace<FunctionEntry> functions_;
  BySpace<model::EventType> eventTypes_;
  // Routes point into these; deque keeps elements in place.
  std::deque<model::Subscription> subscriptions_;
  std::deque<model::Cors> corsResources_;
  std::deque<events::Filter> filters_;  // compiled filters of async routes
  // method -> event type -> routes by path
  std::map<std::string, std::map<std::string, PathTree<Route>, std::less<>>, std::less<>> sync_;
  // (method, path, eventType) -> async subscribers of every space
  std::map<Key3, std::vector<Route>, StringTupleLess> async_;
  // (space, functionId, path)
  std::map<Key3, Route, StringTupleLess> invoke_;
  // (space, subscriptionId) of every routed subscription
  std::map<std::array<std::string, 2>, Route, StringTupleLess> bySubscription_;
  // method -> rules by path; CORS resources first, Gen 1 subscriptions' cors otherwise
  std::map<std::string, PathTree<const model::CorsRules*>, std::less<>> cors_;
  std::map<std::string, PathTree<const model::CorsRules*>, std::less<>> gen1Cors_;
  std::map<std::string, SpaceCounts, std::less<>> counts_;
};

}  // namespace eg::routing
