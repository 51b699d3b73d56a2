#include "routing/snapshot_impl.h"

#include <exception>
#include <utility>

#include <spdlog/spdlog.h>

namespace eg::routing {
namespace {

template <class Map>
auto findIn(const Map& bySpace, std::string_view space, std::string_view id)
    -> decltype(&bySpace.begin()->second.begin()->second) {
  auto s = bySpace.find(space);
  if (s == bySpace.end()) return nullptr;
  auto it = s->second.find(id);
  return it == s->second.end() ? nullptr : &it->second;
}

}  // namespace

std::shared_ptr<const providers::Invoker> makeInvoker(
    const model::Function& function, const providers::ProviderRegistry& registry) {
  const providers::ProviderFactory* factory = registry.find(function.type);
  if (factory == nullptr) {
    spdlog::warn("function {}/{} has unknown provider type \"{}\"; it cannot be called",
                 function.space, function.functionId, function.type);
    return nullptr;
  }
  try {
    return std::shared_ptr<const providers::Invoker>(factory->create(function));
  } catch (const std::exception& e) {
    spdlog::warn("function {}/{} cannot be set up: {}", function.space, function.functionId,
                 e.what());
    return nullptr;
  }
}

std::shared_ptr<const Snapshot> buildSnapshot(SnapshotContents contents) {
  return std::make_shared<const SnapshotImpl>(std::move(contents));
}

SnapshotImpl::SnapshotImpl(SnapshotContents contents) : revision_(contents.revision) {
  for (auto& entry : contents.functions) {
    ++counts_[entry.function.space].functions;
    auto& bySpace = functions_[entry.function.space];
    std::string id = entry.function.functionId;
    bySpace.insert_or_assign(std::move(id), std::move(entry));
  }
  resolveWeighted();
  for (auto& et : contents.eventTypes) {
    ++counts_[et.space].eventTypes;
    auto& bySpace = eventTypes_[et.space];
    std::string name = et.name;
    bySpace.insert_or_assign(std::move(name), std::move(et));
  }

  for (auto& sub : contents.subscriptions) {
    ++counts_[sub.space].subscriptions;
    const FunctionEntry* fn = findIn(functions_, sub.space, sub.functionId);
    if (fn == nullptr) {
      spdlog::debug("subscription {}/{} not routed: function \"{}\" does not exist", sub.space,
                    sub.subscriptionId, sub.functionId);
      continue;
    }
    // Filters are compiled here, once per snapshot; the route carries the result.
    const events::Filter* filter = nullptr;
    if (sub.filters) {
      auto compiled = events::Filter::compile(*sub.filters);
      if (!compiled) {
        // Stored filters were checked when written; one that no longer compiles (a
        // bound lowered since) would deliver what its subscriber did not ask for.
        spdlog::warn("subscription {}/{} not routed: {}", sub.space, sub.subscriptionId,
                     compiled.error().message);
        continue;
      }
      sub.filters.reset();
      filter = &filters_.emplace_back(std::move(compiled).value());
    }
    const model::Subscription& s = subscriptions_.emplace_back(std::move(sub));
    const Route route{&s, fn, filter};
    bySubscription_.try_emplace(std::array<std::string, 2>{s.space, s.subscriptionId}, route);
    switch (s.type) {
      case model::SubscriptionType::kSync: {
        auto& tree = sync_[s.method]
                         .try_emplace(s.eventType, ConflictPolicy::kLenient)
                         .first->second;
        if (auto st = tree.insert(s.path, route); !st) {
          spdlog::warn("sync subscription {}/{} not routed: {}", s.space, s.subscriptionId,
                       st.error().message);
        }
        break;
      }
      case model::SubscriptionType::kAsync:
        async_[Key3{s.method, s.path, s.eventType}].push_back(route);
        break;
      case model::SubscriptionType::kInvoke:
        invoke_.try_emplace(Key3{s.space, s.functionId, s.path}, route);
        break;
    }
  }

  // A Gen 1 http subscription's cors is an inline CORS configuration of its method and
  // path; a CORS resource for the same request wins (looked up first).
  for (const auto& s : subscriptions_) {
    if (s.type != model::SubscriptionType::kSync || !s.cors) continue;
    auto& tree = gen1Cors_.try_emplace(s.method, ConflictPolicy::kLenient).first->second;
    (void)tree.insert(s.path, &*s.cors);
  }
  for (auto& c : contents.cors) {
    const model::Cors& stored = corsResources_.emplace_back(std::move(c));
    auto& tree = cors_.try_emplace(stored.method, ConflictPolicy::kLenient).first->second;
    if (auto st = tree.insert(stored.path, &stored.rules); !st) {
      spdlog::debug("CORS configuration {}/{} shadowed: {}", stored.space, stored.corsId,
                    st.error().message);
    }
  }
}

void SnapshotImpl::resolveWeighted() {
  for (auto& [space, bySpace] : functions_) {
    for (auto& [id, entry] : bySpace) {
      if (entry.function.type != providers::kWeightedType) continue;
      // Set even when no target resolves: a choice among none calls the entry's own
      // invoker, whose calls fail saying why.
      auto resolved = std::make_shared<WeightedTargets>();
      entry.weighted = resolved;
      auto settings = providers::parseWeightedProvider(entry.function.provider);
      if (!settings) {
        spdlog::warn("weighted function {}/{} cannot be called: {}", space, id,
                     settings.error().message);
        continue;
      }
      resolved->stickyBy = std::move(settings->stickyBy);
      for (const auto& [targetId, weight] : settings->functions) {
        // The Config API refuses these; a store written otherwise may still hold them.
        const FunctionEntry* target = findIn(functions_, space, targetId);
        if (target == nullptr || target->function.type == providers::kWeightedType) {
          spdlog::warn("weighted function {}/{}: target \"{}\" {}; its share goes to the others",
                       space, id, targetId, target == nullptr ? "does not exist" : "is weighted");
          continue;
        }
        if (weight == 0) continue;
        resolved->total += weight;
        resolved->targets.push_back(WeightedTargets::Target{target, resolved->total});
      }
    }
  }
}

std::optional<SyncMatch> SnapshotImpl::findSync(std::string_view method, std::string_view path,
                                                std::string_view eventType) const {
  auto m = sync_.find(method);
  if (m == sync_.end()) return std::nullopt;
  auto t = m->second.find(eventType);
  if (t == m->second.end()) return std::nullopt;
  SyncMatch result;
  const Route* route = t->second.match(path, &result.params);
  if (route == nullptr) return std::nullopt;
  result.route = *route;
  return result;
}

std::span<const Route> SnapshotImpl::findAsync(std::string_view method, std::string_view path,
                                               std::string_view eventType) const {
  const std::array<std::string_view, 3> key{method, path, eventType};
  auto it = async_.find(key);
  if (it == async_.end()) return {};
  return it->second;
}

const Route* SnapshotImpl::findSubscription(std::string_view space,
                                           std::string_view subscriptionId) const {
  const std::array<std::string_view, 2> key{space, subscriptionId};
  auto it = bySubscription_.find(key);
  return it == bySubscription_.end() ? nullptr : &it->second;
}

const Route* SnapshotImpl::findInvoke(std::string_view space, std::string_view functionId,
                                      std::string_view path) const {
  const std::array<std::string_view, 3> key{space, functionId, path};
  auto it = invoke_.find(key);
  return it == invoke_.end() ? nullptr : &it->second;
}

const model::EventType* SnapshotImpl::eventType(std::string_view space,
                                                std::string_view name) const {
  return findIn(eventTypes_, space, name);
}

const FunctionEntry* SnapshotImpl::function(std::string_view space, std::string_view id) const {
  return findIn(functions_, space, id);
}

const model::CorsRules* SnapshotImpl::cors(std::string_view method, std::string_view path) const {
  for (const auto* trees : {&cors_, &gen1Cors_}) {
    auto it = trees->find(method);
    if (it == trees->end()) continue;
    if (auto* rules = it->second.match(path)) return *rules;
  }
  return nullptr;
}

}  // namespace eg::routing
