#include "routing/routing_table.h"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "providers/weighted/weighted_provider.h"
#include "routing/snapshot_impl.h"

namespace eg::routing {
namespace {

std::string callerKey(std::string_view space, std::string_view functionId) {
  std::string key;
  key.reserve(space.size() + 1 + functionId.size());
  key.append(space).push_back('\n');
  key.append(functionId);
  return key;
}

// Whether resource (spaceA, idA) comes before (spaceB, idB) in store key order
// ("spaces/<space>/<collection>/<id>", where neither part holds '/'), without building
// the keys.
bool storeOrder(std::string_view spaceA, std::string_view idA, std::string_view spaceB,
                std::string_view idB) {
  if (spaceA == spaceB) return idA < idB;
  const std::size_t n = std::min(spaceA.size(), spaceB.size());
  for (std::size_t i = 0; i < n; ++i) {
    if (spaceA[i] != spaceB[i]) {
      return static_cast<unsigned char>(spaceA[i]) < static_cast<unsigned char>(spaceB[i]);
    }
  }
  // One space is a prefix of the other: the shorter one's key goes on with '/'.
  const char a = spaceA.size() > n ? spaceA[n] : '/';
  const char b = spaceB.size() > n ? spaceB[n] : '/';
  return static_cast<unsigned char>(a) < static_cast<unsigned char>(b);
}

bool before(const RoutedSubscription& a, const RoutedSubscription& b) {
  return storeOrder(a.subscription.space, a.subscription.subscriptionId, b.subscription.space,
                    b.subscription.subscriptionId);
}

// `list` with `r` added at its place in store key order (a new list when list is null).
RouteListPtr withRoute(const RouteList* list, const RoutedPtr& r) {
  auto out = std::make_shared<RouteList>();
  if (list != nullptr) {
    out->held.reserve(list->held.size() + 1);
    out->held = list->held;
  }
  auto at = std::upper_bound(out->held.begin(), out->held.end(), r,
                             [](const RoutedPtr& x, const RoutedPtr& y) { return before(*x, *y); });
  out->held.insert(at, r);
  out->routes.reserve(out->held.size());
  for (const auto& h : out->held) out->routes.push_back(h->route);
  return out;
}

// `list` without `r`; null when nothing is left.
RouteListPtr withoutRoute(const RouteList& list, const RoutedSubscription* r) {
  if (list.held.size() == 1 && list.held.front().get() == r) return nullptr;
  auto out = std::make_shared<RouteList>();
  out->held.reserve(list.held.size());
  for (const auto& h : list.held) {
    if (h.get() != r) out->held.push_back(h);
  }
  out->routes.reserve(out->held.size());
  for (const auto& h : out->held) out->routes.push_back(h->route);
  return out;
}

template <class Map, class Key>
auto found(const Map& map, const Key& key) -> std::remove_reference_t<decltype(*map.find(key))> {
  const auto* v = map.find(key);
  return v == nullptr ? nullptr : *v;
}

// Adds `r` to the list under `key` of a map of route lists.
template <class Map, class Key>
void addIn(Map& lists, const Key& key, const RoutedPtr& r) {
  lists.assign(withRoute(found(lists, key).get(), r));
}

// A map of route lists with `r` taken out of the list under `key` (the list dropped
// when nothing is left).
template <class Map, class Key>
Map withoutIn(const Map& lists, const Key& key, const RoutedSubscription* r) {
  auto list = found(lists, key);
  if (!list) return lists;
  auto rest = withoutRoute(*list, r);
  return rest ? lists.set(std::move(rest)) : lists.erase(key);
}

// The tree of `method` in `trees` with the slot of `path` changed by `change(old leaf)`.
template <class Tree, class Trees, class Change>
Trees changeSlot(const Trees& trees, std::string_view method, std::string_view path,
                 Change&& change) {
  auto tree = found(trees, method);
  auto next = std::make_shared<Tree>();
  next->method = std::string(method);
  if (tree) next->tree = tree->tree;
  const auto* leaf = next->tree.find(path);
  auto replaced = next->tree.set(path, change(leaf != nullptr ? *leaf : nullptr));
  if (!replaced) return trees;  // a malformed path: never routed, warned when added
  next->tree = std::move(*replaced);
  if (next->tree.empty()) return trees.erase(method);
  return trees.set(std::move(next));
}

}  // namespace

RoutingTable::RoutingTable(const providers::ProviderRegistry& registry) : registry_(registry) {}

void RoutingTable::bump(std::string_view space, Count what, int delta) {
  auto current = found(state_.counts, space);
  auto next = std::make_shared<SpaceCount>();
  if (current) {
    *next = *current;
  } else {
    next->space = std::string(space);
  }
  std::size_t& field = what == Count::kFunctions    ? next->counts.functions
                       : what == Count::kEventTypes ? next->counts.eventTypes
                                                    : next->counts.subscriptions;
  field = static_cast<std::size_t>(static_cast<long long>(field) + delta);
  const auto& c = next->counts;
  if (c.functions == 0 && c.eventTypes == 0 && c.subscriptions == 0) {
    state_.counts = state_.counts.erase(space);
  } else {
    state_.counts.assign(std::move(next));
  }
}

// --- functions ---------------------------------------------------------------------

std::shared_ptr<const WeightedTargets> RoutingTable::resolveWeighted(
    const FunctionEntry& entry) const {
  const auto& fn = entry.function;
  // Set even when no target resolves: a choice among none calls the entry's own
  // invoker, whose calls fail saying why.
  auto resolved = std::make_shared<WeightedTargets>();
  auto settings = providers::parseWeightedProvider(fn.provider);
  if (!settings) {
    spdlog::warn("weighted function {}/{} cannot be called: {}", fn.space, fn.functionId,
                 settings.error().message);
    return resolved;
  }
  resolved->stickyBy = std::move(settings->stickyBy);
  for (const auto& [targetId, weight] : settings->functions) {
    auto target = found(state_.functions, KeyViews<2>{fn.space, targetId});
    if (!target || target->function.type == providers::kWeightedType) {
      spdlog::warn("weighted function {}/{}: target \"{}\" {}; its share goes to the others",
                   fn.space, fn.functionId, targetId,
                   !target ? "does not exist" : "is weighted");
      continue;
    }
    if (weight == 0) continue;
    resolved->total += weight;
    resolved->targets.push_back(WeightedTargets::Target{target.get(), resolved->total});
    resolved->held.push_back(std::move(target));
  }
  return resolved;
}

void RoutingTable::storeFunction(std::shared_ptr<FunctionEntry> entry) {
  const std::string key = callerKey(entry->function.space, entry->function.functionId);
  if (entry->function.type == providers::kWeightedType) {
    auto settings = providers::parseWeightedProvider(entry->function.provider);
    std::vector<std::string> targets;
    if (settings) {
      for (const auto& [targetId, weight] : settings->functions) targets.push_back(targetId);
    }
    weightedTargets_[key] = std::move(targets);
    weightedBySpace_[entry->function.space].insert(entry->function.functionId);
    entry->weighted = resolveWeighted(*entry);
  }
  state_.functions.assign(std::move(entry));
}

void RoutingTable::putFunction(model::Function function, int64_t modRevision,
                               const RoutingTable* reuse) {
  const std::string space = function.space;
  const std::string id = function.functionId;
  const KeyViews<2> key{space, id};
  auto old = found(state_.functions, key);
  if (!old) bump(space, Count::kFunctions, +1);
  if (old && old->function.type == providers::kWeightedType) {
    weightedTargets_.erase(callerKey(space, id));
    if (auto s = weightedBySpace_.find(space); s != weightedBySpace_.end()) {
      s->second.erase(id);
      if (s->second.empty()) weightedBySpace_.erase(s);
    }
  }

  auto entry = std::make_shared<FunctionEntry>();
  entry->modRevision = modRevision;
  const FunctionEntry* previous =
      reuse != nullptr ? found(reuse->state_.functions, key).get() : nullptr;
  if (previous != nullptr && previous->modRevision == modRevision) {
    entry->invoker = previous->invoker;
    entry->limiter = previous->limiter;
  } else {
    entry->invoker = makeInvoker(function, registry_);
    // A changed function starts its limits afresh (a full bucket, no calls counted).
    if (function.limits) {
      entry->limiter = std::make_shared<limits::FunctionLimiter>(*function.limits);
    }
  }
  // A changed function (or the same one read again) counts on in the same series.
  if (old) {
    entry->stats = old->stats;
  } else if (previous != nullptr) {
    entry->stats = previous->stats;
  }
  entry->function = std::move(function);
  storeFunction(std::move(entry));
  refreshWeighted(space, id);
  refreshSubscriptions(space, id);
}

void RoutingTable::removeFunction(std::string_view space, std::string_view id) {
  const KeyViews<2> key{space, id};
  auto old = found(state_.functions, key);
  if (!old) return;
  const std::string s(space);
  const std::string i(id);
  if (old->function.type == providers::kWeightedType) {
    weightedTargets_.erase(callerKey(s, i));
    if (auto w = weightedBySpace_.find(s); w != weightedBySpace_.end()) {
      w->second.erase(i);
      if (w->second.empty()) weightedBySpace_.erase(w);
    }
  }
  state_.functions = state_.functions.erase(key);
  old.reset();
  bump(s, Count::kFunctions, -1);
  refreshWeighted(s, i);
  refreshSubscriptions(s, i);
}

void RoutingTable::refreshWeighted(std::string_view space, std::string_view functionId) {
  auto w = weightedBySpace_.find(space);
  if (w == weightedBySpace_.end()) return;
  const std::vector<std::string> ids(w->second.begin(), w->second.end());
  for (const auto& weightedId : ids) {
    if (weightedId == functionId) continue;
    const auto& targets = weightedTargets_[callerKey(space, weightedId)];
    if (std::find(targets.begin(), targets.end(), functionId) == targets.end()) continue;
    auto current = found(state_.functions, KeyViews<2>{space, weightedId});
    if (!current) continue;
    auto entry = std::make_shared<FunctionEntry>(*current);
    entry->weighted = resolveWeighted(*entry);
    state_.functions.assign(std::move(entry));
    refreshSubscriptions(space, weightedId);
  }
}

// --- subscriptions -------------------------------------------------------------------

RoutedPtr RoutingTable::makeRouted(model::Subscription subscription) const {
  auto r = std::make_shared<RoutedSubscription>();
  if (subscription.filters) {
    // Filters are compiled here, once; the route carries the result.
    auto compiled = events::Filter::compile(*subscription.filters);
    if (compiled) {
      r->filter = std::make_shared<const events::Filter>(std::move(compiled).value());
    } else {
      // Stored filters were checked when written; one that no longer compiles (a bound
      // lowered since) would deliver what its subscriber did not ask for.
      spdlog::warn("subscription {}/{} not routed: {}", subscription.space,
                   subscription.subscriptionId, compiled.error().message);
      r->filterBroken = true;
    }
    subscription.filters.reset();
  }
  subscription.metadata.reset();
  r->subscription = std::move(subscription);
  const auto& s = r->subscription;
  r->function = found(state_.functions, KeyViews<2>{s.space, s.functionId});
  if (!r->function) {
    spdlog::debug("subscription {}/{} not routed: function \"{}\" does not exist", s.space,
                  s.subscriptionId, s.functionId);
  }
  r->route = Route{&r->subscription, r->function.get(), r->filter.get()};
  return r;
}

RoutedPtr RoutingTable::withFunction(const RoutedSubscription& old) const {
  auto r = std::make_shared<RoutedSubscription>();
  r->subscription = old.subscription;
  r->filter = old.filter;
  r->filterBroken = old.filterBroken;
  const auto& s = r->subscription;
  r->function = found(state_.functions, KeyViews<2>{s.space, s.functionId});
  r->route = Route{&r->subscription, r->function.get(), r->filter.get()};
  return r;
}

void RoutingTable::index(const RoutedPtr& r) {
  if (!r->routed()) return;
  const model::Subscription& s = r->subscription;
  switch (s.type) {
    case model::SubscriptionType::kSync: {
      auto table = found(state_.sync, KeyViews<2>{s.method, s.eventType});
      auto next = std::make_shared<SyncTable>();
      next->method = s.method;
      next->eventType = s.eventType;
      if (table) next->tree = table->tree;
      const RouteListPtr* slot = next->tree.find(s.path);
      auto placed = next->tree.set(s.path, withRoute(slot ? slot->get() : nullptr, r));
      if (!placed) {
        spdlog::warn("sync subscription {}/{} not routed: {}", s.space, s.subscriptionId,
                     placed.error().message);
        break;
      }
      if (slot != nullptr && *slot) {
        const auto& other = (*slot)->held.front()->subscription;
        spdlog::warn(
            "sync subscriptions {}/{} and {}/{} share {} {} {}: only the first in store order "
            "is routed",
            s.space, s.subscriptionId, other.space, other.subscriptionId, s.method, s.path,
            s.eventType);
      }
      next->tree = std::move(*placed);
      state_.sync.assign(std::move(next));
      if (s.cors) {
        state_.gen1Cors = changeSlot<Gen1CorsTree>(
            state_.gen1Cors, s.method, s.path,
            [&](const RouteListPtr& old) { return withRoute(old.get(), r); });
      }
      break;
    }
    case model::SubscriptionType::kAsync:
      addIn(state_.async, KeyViews<3>{s.method, s.path, s.eventType}, r);
      break;
    case model::SubscriptionType::kInvoke:
      addIn(state_.invoke, KeyViews<3>{s.space, s.functionId, s.path}, r);
      break;
  }
}

void RoutingTable::unindex(const RoutedPtr& r) {
  if (!r->routed()) return;
  const model::Subscription& s = r->subscription;
  const auto without = [&](const RouteListPtr& list) -> RouteListPtr {
    return list ? withoutRoute(*list, r.get()) : nullptr;
  };
  switch (s.type) {
    case model::SubscriptionType::kSync: {
      auto table = found(state_.sync, KeyViews<2>{s.method, s.eventType});
      if (!table) break;
      const RouteListPtr* slot = table->tree.find(s.path);
      if (slot == nullptr) break;
      auto next = std::make_shared<SyncTable>(*table);
      auto placed = next->tree.set(s.path, without(*slot));
      if (!placed) break;
      next->tree = std::move(*placed);
      if (next->tree.empty()) {
        state_.sync = state_.sync.erase(KeyViews<2>{s.method, s.eventType});
      } else {
        state_.sync.assign(std::move(next));
      }
      if (s.cors) {
        state_.gen1Cors = changeSlot<Gen1CorsTree>(state_.gen1Cors, s.method, s.path, without);
      }
      break;
    }
    case model::SubscriptionType::kAsync:
      state_.async = withoutIn(state_.async, KeyViews<3>{s.method, s.path, s.eventType}, r.get());
      break;
    case model::SubscriptionType::kInvoke:
      state_.invoke = withoutIn(state_.invoke, KeyViews<3>{s.space, s.functionId, s.path}, r.get());
      break;
  }
}

void RoutingTable::refreshSubscriptions(std::string_view space, std::string_view functionId) {
  auto callers = callers_.find(callerKey(space, functionId));
  if (callers == callers_.end()) return;
  const std::vector<const RoutedSubscription*> old(callers->second.begin(),
                                                   callers->second.end());
  callers->second.clear();
  for (const RoutedSubscription* o : old) {
    const auto& s = o->subscription;
    RoutedPtr current = found(state_.subscriptions, KeyViews<2>{s.space, s.subscriptionId});
    if (!current) continue;  // callers_ follows the map; never expected
    RoutedPtr next = withFunction(*current);
    unindex(current);
    index(next);
    callers->second.insert(next.get());
    state_.subscriptions.assign(std::move(next));
  }
}

void RoutingTable::putSubscription(model::Subscription subscription) {
  RoutedPtr next = makeRouted(std::move(subscription));
  const auto& s = next->subscription;
  if (RoutedPtr old = found(state_.subscriptions, KeyViews<2>{s.space, s.subscriptionId})) {
    unindex(old);
    const auto& o = old->subscription;
    if (auto c = callers_.find(callerKey(o.space, o.functionId)); c != callers_.end()) {
      c->second.erase(old.get());
      if (c->second.empty()) callers_.erase(c);
    }
  } else {
    bump(s.space, Count::kSubscriptions, +1);
  }
  index(next);
  callers_[callerKey(s.space, s.functionId)].insert(next.get());
  state_.subscriptions.assign(std::move(next));
}

void RoutingTable::removeSubscription(std::string_view space, std::string_view id) {
  const KeyViews<2> key{space, id};
  RoutedPtr old = found(state_.subscriptions, key);
  if (!old) return;
  unindex(old);
  const auto& o = old->subscription;
  if (auto c = callers_.find(callerKey(o.space, o.functionId)); c != callers_.end()) {
    c->second.erase(old.get());
    if (c->second.empty()) callers_.erase(c);
  }
  const std::string s(space);
  state_.subscriptions = state_.subscriptions.erase(key);
  bump(s, Count::kSubscriptions, -1);
}

Status RoutingTable::checkSync(const model::Subscription& candidate) const {
  const auto* table = state_.sync.find(KeyViews<2>{candidate.method, candidate.eventType});
  if (table == nullptr) return validateRoutePath(candidate.path);
  const auto& tree = (*table)->tree;
  const auto patternOf = [](const RouteListPtr& list) -> std::string_view {
    return list->held.front()->subscription.path;
  };
  Status st = tree.checkStrict(candidate.path, patternOf);
  if (st || st.error().kind != ErrorKind::kAlreadyExists) return st;
  const RouteListPtr* slot = tree.find(candidate.path);
  if (slot != nullptr) {
    for (const auto& r : (*slot)->held) {
      if (r->subscription.space == candidate.space &&
          r->subscription.subscriptionId == candidate.subscriptionId) {
        return Error::alreadyExists("Subscription \"" + candidate.subscriptionId +
                                    "\" already exists.");
      }
    }
  }
  return Error::invalid("path \"" + candidate.path + "\" already has a sync subscription for " +
                        candidate.method + " " + candidate.eventType +
                        (slot != nullptr ? " (space \"" + (*slot)->held.front()->subscription.space + "\")"
                                         : ""));
}

const model::Subscription* RoutingTable::subscription(std::string_view space,
                                                      std::string_view id) const {
  const RoutedPtr* r = state_.subscriptions.find(KeyViews<2>{space, id});
  return r == nullptr ? nullptr : &(*r)->subscription;
}

// --- event types and CORS -------------------------------------------------------------

void RoutingTable::putEventType(model::EventType eventType) {
  eventType.metadata.reset();
  if (!state_.eventTypes.find(KeyViews<2>{eventType.space, eventType.name})) {
    bump(eventType.space, Count::kEventTypes, +1);
  }
  state_.eventTypes.assign(std::make_shared<const model::EventType>(std::move(eventType)));
}

void RoutingTable::removeEventType(std::string_view space, std::string_view name) {
  const KeyViews<2> key{space, name};
  if (!state_.eventTypes.find(key)) return;
  const std::string s(space);
  state_.eventTypes = state_.eventTypes.erase(key);
  bump(s, Count::kEventTypes, -1);
}

void RoutingTable::putCors(model::Cors cors) {
  cors.metadata.reset();
  removeCors(cors.space, cors.corsId);
  auto stored = std::make_shared<const model::Cors>(std::move(cors));
  if (auto st = validateRoutePath(stored->path); !st) {
    spdlog::debug("CORS configuration {}/{} not used: {}", stored->space, stored->corsId,
                  st.error().message);
  }
  state_.corsTrees = changeSlot<CorsTree>(
      state_.corsTrees, stored->method, stored->path,
      [&](const std::shared_ptr<const CorsList>& old) {
        auto next = std::make_shared<CorsList>();
        if (old) next->held = old->held;
        auto at = std::upper_bound(next->held.begin(), next->held.end(), stored,
                                   [](const auto& x, const auto& y) {
                                     return storeOrder(x->space, x->corsId, y->space, y->corsId);
                                   });
        next->held.insert(at, stored);
        return std::shared_ptr<const CorsList>(std::move(next));
      });
  state_.cors.assign(std::move(stored));
}

void RoutingTable::removeCors(std::string_view space, std::string_view id) {
  const KeyViews<2> key{space, id};
  auto old = found(state_.cors, key);
  if (!old) return;
  state_.corsTrees = changeSlot<CorsTree>(
      state_.corsTrees, old->method, old->path,
      [&](const std::shared_ptr<const CorsList>& list) -> std::shared_ptr<const CorsList> {
        if (!list) return nullptr;
        auto next = std::make_shared<CorsList>();
        for (const auto& c : list->held) {
          if (c != old) next->held.push_back(c);
        }
        if (next->held.empty()) return nullptr;
        return next;
      });
  state_.cors = state_.cors.erase(key);
}

// --- snapshots ---------------------------------------------------------------------------

namespace {

class TableSnapshot final : public Snapshot {
 public:
  TableSnapshot(RoutingTable::State state, int64_t revision)
      : state_(std::move(state)), revision_(revision) {}

  int64_t revision() const override { return revision_; }

  std::optional<SyncMatch> findSync(std::string_view method, std::string_view path,
                                    std::string_view eventType) const override {
    const auto* table = state_.sync.find(KeyViews<2>{method, eventType});
    if (table == nullptr) return std::nullopt;
    ParamValues values;
    const RouteListPtr* slot = (*table)->tree.match(path, values);
    if (slot == nullptr) return std::nullopt;
    SyncMatch result;
    result.route = (*slot)->routes.front();
    if (!values.empty()) nameParams(result.route.subscription->path, values, result.params);
    return result;
  }

  std::span<const Route> findAsync(std::string_view method, std::string_view path,
                                   std::string_view eventType) const override {
    const auto* list = state_.async.find(KeyViews<3>{method, path, eventType});
    if (list == nullptr) return {};
    return (*list)->routes;
  }

  const Route* findSubscription(std::string_view space,
                                std::string_view subscriptionId) const override {
    const auto* r = state_.subscriptions.find(KeyViews<2>{space, subscriptionId});
    return r != nullptr && (*r)->routed() ? &(*r)->route : nullptr;
  }

  const Route* findInvoke(std::string_view space, std::string_view functionId,
                          std::string_view path) const override {
    const auto* list = state_.invoke.find(KeyViews<3>{space, functionId, path});
    return list == nullptr ? nullptr : &(*list)->routes.front();
  }

  const model::EventType* eventType(std::string_view space, std::string_view name) const override {
    const auto* e = state_.eventTypes.find(KeyViews<2>{space, name});
    return e == nullptr ? nullptr : e->get();
  }

  const FunctionEntry* function(std::string_view space, std::string_view id) const override {
    const auto* f = state_.functions.find(KeyViews<2>{space, id});
    return f == nullptr ? nullptr : f->get();
  }

  const model::CorsRules* cors(std::string_view method, std::string_view path) const override {
    ParamValues values;
    if (const auto* tree = state_.corsTrees.find(method)) {
      if (const auto* slot = (*tree)->tree.match(path, values)) return &(*slot)->held.front()->rules;
    }
    if (const auto* tree = state_.gen1Cors.find(method)) {
      if (const auto* slot = (*tree)->tree.match(path, values)) {
        return &*(*slot)->routes.front().subscription->cors;
      }
    }
    return nullptr;
  }

  std::map<std::string, SpaceCounts, std::less<>> counts() const override {
    std::map<std::string, SpaceCounts, std::less<>> out;
    state_.counts.forEach([&](const auto& c) { out.emplace(c->space, c->counts); });
    return out;
  }

 private:
  RoutingTable::State state_;
  int64_t revision_;
};

}  // namespace

std::shared_ptr<const Snapshot> RoutingTable::snapshot(int64_t revision) const {
  return std::make_shared<const TableSnapshot>(state_, revision);
}

}  // namespace eg::routing
