#pragma once

// Test doubles for the dispatcher: a hand-filled configuration snapshot and scripted
// functions. Single-threaded use (the tests run one io_context on their own thread).

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <tuple>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "events/filter.h"
#include "providers/provider.h"
#include "routing/snapshot.h"

namespace eg::dispatch::testing {

class FakeInvoker : public providers::Invoker {
 public:
  using Responder = std::function<Result<providers::CallResult>(std::string_view payload)>;

  explicit FakeInvoker(Responder responder) : responder_(std::move(responder)) {}

  using Invoker::call;
  boost::asio::awaitable<Result<providers::CallResult>> call(
      std::string_view payload, providers::CallContext context) const override {
    std::string copy(payload);
    traces_.push_back(std::string(context.traceparent) + "|" + std::string(context.tracestate));
    if (delay_.count() > 0) {
      boost::asio::steady_timer timer(co_await boost::asio::this_coro::executor);
      timer.expires_after(delay_);
      co_await timer.async_wait(boost::asio::use_awaitable);
    }
    payloads_.push_back(copy);
    co_return responder_(copy);
  }

  void setDelay(std::chrono::milliseconds d) { delay_ = d; }
  const std::vector<std::string>& payloads() const { return payloads_; }
  // Each call's "traceparent|tracestate" ("|" without a trace context).
  const std::vector<std::string>& traces() const { return traces_; }

 private:
  Responder responder_;
  std::chrono::milliseconds delay_{0};
  mutable std::vector<std::string> payloads_;
  mutable std::vector<std::string> traces_;
};

inline Result<providers::CallResult> ok(std::string body, std::string contentType = "") {
  return providers::CallResult{std::move(body), std::move(contentType)};
}

class FakeSnapshot : public routing::Snapshot {
 public:
  // Registers a function answering with `responder`; returns its invoker.
  std::shared_ptr<FakeInvoker> addFunction(const std::string& space, const std::string& id,
                                           FakeInvoker::Responder responder) {
    auto invoker = std::make_shared<FakeInvoker>(std::move(responder));
    auto& entry = functions_[{space, id}];
    entry.function.space = space;
    entry.function.functionId = id;
    entry.function.type = "http";
    entry.invoker = invoker;
    return invoker;
  }

  // Registers the weighted function `id` over functions added before (same space),
  // resolved as a snapshot resolves it; its own invoker, called only when no target can
  // be, fails. Returns that invoker.
  std::shared_ptr<FakeInvoker> addWeighted(const std::string& space, const std::string& id,
                                           std::vector<std::pair<std::string, int>> weights,
                                           providers::StickyBy stickyBy = {}) {
    auto invoker = addFunction(space, id, [](std::string_view) -> Result<providers::CallResult> {
      return Error::unavailable("weighted function has no target that can be called");
    });
    auto& entry = functions_[{space, id}];
    entry.function.type = "weighted";
    auto resolved = std::make_shared<routing::WeightedTargets>();
    resolved->stickyBy = std::move(stickyBy);
    for (const auto& [target, weight] : weights) {
      if (weight == 0) continue;
      resolved->total += static_cast<uint64_t>(weight);
      resolved->targets.push_back({&functions_.at({space, target}), resolved->total});
    }
    entry.weighted = std::move(resolved);
    return invoker;
  }

  // Returns the event type, whose authorizerCache a test may set.
  model::EventType& addEventType(const std::string& space, const std::string& name,
                                 std::optional<std::string> authorizerId = std::nullopt) {
    auto& et = eventTypes_[{space, name}];
    et.space = space;
    et.name = name;
    et.authorizerId = std::move(authorizerId);
    return et;
  }

  void addSync(const std::string& space, const std::string& functionId,
               const std::string& method, const std::string& path,
               const std::string& eventType, routing::PathParams params = {}) {
    auto& sub = newSubscription(space, functionId, method, path, eventType,
                                model::SubscriptionType::kSync);
    sync_[{method, path, eventType}] = {route(sub), std::move(params)};
  }

  // Returns the subscription, whose deliveryPolicy a test may set.
  model::Subscription& addAsync(const std::string& space, const std::string& functionId,
                                const std::string& method, const std::string& path,
                                const std::string& eventType) {
    auto& sub = newSubscription(space, functionId, method, path, eventType,
                                model::SubscriptionType::kAsync);
    async_[{method, path, eventType}].push_back(route(sub));
    return sub;
  }

  // Gives function `id` of `space` limits, as ConfigCache would.
  void setLimits(const std::string& space, const std::string& id, model::FunctionLimits limits) {
    auto& entry = functions_.at({space, id});
    entry.function.limits = limits;
    entry.limiter = std::make_shared<limits::FunctionLimiter>(limits);
  }

  // An async subscription with `filters` (JSON text), compiled as a snapshot would.
  model::Subscription& addFilteredAsync(const std::string& space, const std::string& functionId,
                                        const std::string& method, const std::string& path,
                                        const std::string& eventType, std::string_view filters) {
    auto& sub = addAsync(space, functionId, method, path, eventType);
    auto compiled = events::Filter::compile(boost::json::parse(filters));
    if (!compiled) throw std::invalid_argument(compiled.error().message);
    const events::Filter* filter = &filters_.emplace_back(std::move(compiled).value());
    async_[{method, path, eventType}].back().filter = filter;
    bySubscription_[{space, sub.subscriptionId}].filter = filter;
    return sub;
  }

  // Removes a subscription from routing (as a delete would), keeping its function.
  void removeSubscription(const std::string& space, const std::string& subscriptionId) {
    bySubscription_.erase({space, subscriptionId});
    for (auto& [key, routes] : async_) {
      std::erase_if(routes, [&](const routing::Route& r) {
        return r.subscription->space == space && r.subscription->subscriptionId == subscriptionId;
      });
    }
  }

  void addInvoke(const std::string& space, const std::string& functionId,
                 const std::string& path) {
    auto& sub = newSubscription(space, functionId, "POST", path, "invoke",
                                model::SubscriptionType::kInvoke);
    invoke_[{space, functionId, path}] = route(sub);
  }

  void addCors(const std::string& method, const std::string& path, model::CorsRules rules) {
    cors_[{method, path}] = std::move(rules);
  }

  int64_t revision() const override { return revision_; }
  void setRevision(int64_t revision) { revision_ = revision; }

  std::optional<routing::SyncMatch> findSync(std::string_view method, std::string_view path,
                                             std::string_view eventType) const override {
    auto it = sync_.find({std::string(method), std::string(path), std::string(eventType)});
    if (it == sync_.end()) return std::nullopt;
    return it->second;
  }

  std::span<const routing::Route> findAsync(std::string_view method, std::string_view path,
                                            std::string_view eventType) const override {
    auto it = async_.find({std::string(method), std::string(path), std::string(eventType)});
    if (it == async_.end()) return {};
    return it->second;
  }

  const routing::Route* findSubscription(std::string_view space,
                                         std::string_view subscriptionId) const override {
    auto it = bySubscription_.find({std::string(space), std::string(subscriptionId)});
    return it == bySubscription_.end() ? nullptr : &it->second;
  }

  const routing::Route* findInvoke(std::string_view space, std::string_view functionId,
                                   std::string_view path) const override {
    auto it = invoke_.find({std::string(space), std::string(functionId), std::string(path)});
    return it == invoke_.end() ? nullptr : &it->second;
  }

  const model::EventType* eventType(std::string_view space,
                                    std::string_view name) const override {
    auto it = eventTypes_.find({std::string(space), std::string(name)});
    return it == eventTypes_.end() ? nullptr : &it->second;
  }

  const routing::FunctionEntry* function(std::string_view space,
                                         std::string_view id) const override {
    auto it = functions_.find({std::string(space), std::string(id)});
    return it == functions_.end() ? nullptr : &it->second;
  }

  const model::CorsRules* cors(std::string_view method, std::string_view path) const override {
    auto it = cors_.find({std::string(method), std::string(path)});
    return it == cors_.end() ? nullptr : &it->second;
  }

  std::map<std::string, routing::SpaceCounts, std::less<>> counts() const override {
    return counts_;
  }

 private:
  model::Subscription& newSubscription(const std::string& space, const std::string& functionId,
                                       const std::string& method, const std::string& path,
                                       const std::string& eventType,
                                       model::SubscriptionType type) {
    auto& sub = subscriptions_.emplace_back();
    sub.space = space;
    sub.subscriptionId = std::to_string(subscriptions_.size());
    sub.type = type;
    sub.eventType = eventType;
    sub.functionId = functionId;
    sub.method = method;
    sub.path = path;
    return sub;
  }

  routing::Route route(const model::Subscription& sub) {
    auto it = functions_.find({sub.space, sub.functionId});
    routing::Route r{&sub, it == functions_.end() ? nullptr : &it->second};
    bySubscription_[{sub.space, sub.subscriptionId}] = r;
    return r;
  }

  std::map<std::pair<std::string, std::string>, routing::FunctionEntry> functions_;
  std::map<std::pair<std::string, std::string>, model::EventType> eventTypes_;
  std::deque<model::Subscription> subscriptions_;
  std::deque<events::Filter> filters_;
  std::map<std::tuple<std::string, std::string, std::string>, routing::SyncMatch> sync_;
  std::map<std::tuple<std::string, std::string, std::string>, std::vector<routing::Route>>
      async_;
  std::map<std::tuple<std::string, std::string, std::string>, routing::Route> invoke_;
  std::map<std::pair<std::string, std::string>, routing::Route> bySubscription_;
  int64_t revision_ = 1;
  std::map<std::pair<std::string, std::string>, model::CorsRules> cors_;
  std::map<std::string, routing::SpaceCounts, std::less<>> counts_;
};

}  // namespace eg::dispatch::testing
