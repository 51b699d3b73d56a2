#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <boost/container/small_vector.hpp>

#include "events/filter.h"
#include "model/resources.h"
#include "providers/provider.h"
#include "routing/persistent_map.h"
#include "routing/persistent_path_tree.h"
#include "routing/snapshot.h"

namespace eg::routing {

// A stored subscription as routing holds it: one copy, shared by every snapshot that
// has it, with its function resolved and its filters compiled. Immutable.
struct RoutedSubscription {
  model::Subscription subscription;  // without metadata and filters
  std::shared_ptr<const FunctionEntry> function;  // null: the function does not exist
  std::shared_ptr<const events::Filter> filter;   // null: no filters
  bool filterBroken = false;  // stored filters that no longer compile: not routed
  Route route;                // points into this object
  bool routed() const { return function != nullptr && !filterBroken; }
};
using RoutedPtr = std::shared_ptr<const RoutedSubscription>;

// Subscriptions that share one place (a sync slot, an invoke key, an async key), in
// store key order: the first is the one a slot routes to, as a full build would have it.
struct RouteList {
  // Most lists hold one route: kept inline, with no allocation of their own.
  boost::container::small_vector<RoutedPtr, 1> held;
  boost::container::small_vector<Route, 1> routes;  // routes[i] is held[i]->route
};
using RouteListPtr = std::shared_ptr<const RouteList>;

// CORS resources sharing one slot, in store key order.
struct CorsList {
  std::vector<std::shared_ptr<const model::Cors>> held;
};

// The whole routing configuration as persistent maps (persistent_map.h): each change
// copies only what it touches, and snapshot() shares everything, so a change costs
// O(its own size) — one resource, and for a function also the subscriptions that call
// it — at any table size. Gives the same answers as buildSnapshot() of the same
// resources (snapshot_impl.h), which the differential test holds it to.
//
// Not thread-safe: one writer (ConfigCache, under its lock); the snapshots it hands
// out are immutable and read from any thread.
class RoutingTable {
 public:
  explicit RoutingTable(const providers::ProviderRegistry& registry);

  // Each put replaces the resource with the same identity. Values keep no metadata.
  // `reuse`: a function whose stored value is unchanged (same modRevision) keeps that
  // entry's invoker and limits (re-listing after a compaction).
  void putFunction(model::Function function, int64_t modRevision,
                   const RoutingTable* reuse = nullptr);
  void removeFunction(std::string_view space, std::string_view id);
  void putEventType(model::EventType eventType);
  void removeEventType(std::string_view space, std::string_view name);
  void putSubscription(model::Subscription subscription);
  void removeSubscription(std::string_view space, std::string_view id);
  void putCors(model::Cors cors);
  void removeCors(std::string_view space, std::string_view id);

  // Whether a new sync subscription conflicts with the sync routes put so far, under
  // PathTree's kStrict rules: the same (method, path, eventType) in any space
  // (kAlreadyExists if the same subscription, else kInvalid), a static segment where a
  // parameter is registered at the same place or the reverse, or the same place's
  // parameter under another name. O(path length).
  Status checkSync(const model::Subscription& candidate) const;

  // The stored subscription (routed or not), or null.
  const model::Subscription* subscription(std::string_view space, std::string_view id) const;

  // An immutable view of everything put so far, at `revision`: O(1).
  std::shared_ptr<const Snapshot> snapshot(int64_t revision) const;

  // The persistent maps a snapshot shares.
  struct FunctionKey {
    KeyViews<2> operator()(const std::shared_ptr<const FunctionEntry>& f) const {
      return {f->function.space, f->function.functionId};
    }
  };
  struct EventTypeKey {
    KeyViews<2> operator()(const std::shared_ptr<const model::EventType>& e) const {
      return {e->space, e->name};
    }
  };
  struct SubscriptionKey {
    KeyViews<2> operator()(const RoutedPtr& r) const {
      return {r->subscription.space, r->subscription.subscriptionId};
    }
  };
  struct CorsKey {
    KeyViews<2> operator()(const std::shared_ptr<const model::Cors>& c) const {
      return {c->space, c->corsId};
    }
  };
  struct AsyncKey {  // (method, path, event type) of every subscriber in the list
    KeyViews<3> operator()(const RouteListPtr& l) const {
      const auto& s = l->held.front()->subscription;
      return {s.method, s.path, s.eventType};
    }
  };
  struct InvokeKey {  // (space, function, path)
    KeyViews<3> operator()(const RouteListPtr& l) const {
      const auto& s = l->held.front()->subscription;
      return {s.space, s.functionId, s.path};
    }
  };
  struct SyncTable {
    std::string method;
    std::string eventType;
    PersistentPathTree<RouteListPtr> tree;
  };
  struct SyncKey {
    KeyViews<2> operator()(const std::shared_ptr<const SyncTable>& t) const {
      return {t->method, t->eventType};
    }
  };
  template <class Leaf>
  struct MethodTree {
    std::string method;
    PersistentPathTree<Leaf> tree;
  };
  using CorsTree = MethodTree<std::shared_ptr<const CorsList>>;
  using Gen1CorsTree = MethodTree<RouteListPtr>;
  template <class Tree>
  struct MethodKey {
    std::string_view operator()(const std::shared_ptr<const Tree>& t) const { return t->method; }
  };
  struct SpaceCount {
    std::string space;
    SpaceCounts counts;
  };
  struct CountKey {
    std::string_view operator()(const std::shared_ptr<const SpaceCount>& c) const {
      return c->space;
    }
  };

  struct State {
    PersistentMap<std::shared_ptr<const FunctionEntry>, FunctionKey> functions;
    PersistentMap<std::shared_ptr<const model::EventType>, EventTypeKey> eventTypes;
    PersistentMap<RoutedPtr, SubscriptionKey> subscriptions;  // routed or not
    PersistentMap<std::shared_ptr<const model::Cors>, CorsKey> cors;
    PersistentMap<std::shared_ptr<const SyncTable>, SyncKey> sync;
    PersistentMap<RouteListPtr, AsyncKey> async;
    PersistentMap<RouteListPtr, InvokeKey> invoke;
    PersistentMap<std::shared_ptr<const CorsTree>, MethodKey<CorsTree>> corsTrees;
    PersistentMap<std::shared_ptr<const Gen1CorsTree>, MethodKey<Gen1CorsTree>> gen1Cors;
    PersistentMap<std::shared_ptr<const SpaceCount>, CountKey> counts;
  };

 private:
  enum class Count { kFunctions, kEventTypes, kSubscriptions };
  void bump(std::string_view space, Count what, int delta);

  // Adds a subscription's routes to the indexes, or takes them out.
  void index(const RoutedPtr& r);
  void unindex(const RoutedPtr& r);
  // Re-resolves the function of every subscription that names (space, functionId).
  void refreshSubscriptions(std::string_view space, std::string_view functionId);
  // Re-resolves the weighted functions of `space` that name `functionId` (not itself).
  void refreshWeighted(std::string_view space, std::string_view functionId);
  std::shared_ptr<const WeightedTargets> resolveWeighted(const FunctionEntry& entry) const;
  void storeFunction(std::shared_ptr<FunctionEntry> entry);
  RoutedPtr makeRouted(model::Subscription subscription) const;
  RoutedPtr withFunction(const RoutedSubscription& r) const;

  const providers::ProviderRegistry& registry_;
  State state_;
  // Writer-side indexes, not part of snapshots. "<space>\n<functionId>" keys.
  std::unordered_map<std::string, std::unordered_set<const RoutedSubscription*>> callers_;
  std::unordered_map<std::string, std::vector<std::string>> weightedTargets_;  // by weighted fn
  std::map<std::string, std::unordered_set<std::string>, std::less<>> weightedBySpace_;
};

}  // namespace eg::routing
