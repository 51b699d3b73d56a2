#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "dispatch/authorizer_cache.h"
#include "dispatch/authorizer_key.h"
#include "dispatch/delivery_policy.h"
#include "dispatch/delivery_runner.h"
#include "dispatch/events_api.h"
#include "dispatch/system_events.h"
#include "events/cloud_event.h"
#include "limits/function_limiter.h"
#include "metrics/metrics.h"
#include "net/http_server.h"
#include "observe/observer.h"
#include "providers/provider.h"
#include "queue/queue.h"
#include "routing/snapshot.h"

namespace eg::dispatch {

// Where the current configuration comes from (ConfigCache::snapshot in the gateway).
using SnapshotSource = std::function<std::shared_ptr<const routing::Snapshot>()>;

// The call an attempt of an async delivery made, for its observation.
struct AttemptCall {
  const routing::FunctionEntry* function = nullptr;  // the one called
  std::string_view functionId;
  const Result<providers::CallResult>* result = nullptr;  // null: no call was made
  std::chrono::nanoseconds latency{0};
};

// The Events API's request handler behind EventsApi, with its collaborators passed in
// so that it can be driven by a fake configuration and fake functions.
//
// Per request: one snapshot load; the event is serialized once and the text shared by
// the sync call and every async delivery. Behaviour beyond spec §3 and §5:
// - Routing and CORS use the percent-decoded request path.
// - CORS rules are looked up only for preflights and requests with an Origin. Without
//   rules, Gen 1 custom events (an `Event` header, or a preflight whose
//   Access-Control-Request-Headers name `event`) get allow-all rules.
// - Async deliveries are queued all or nothing before the sync subscriber is called
//   and before the 202: an event the queue refuses (full, or unreachable) is refused
//   whole (503, Retry-After: 1) and the sync subscriber is not called either.
// - A delivery names its subscription; each attempt looks it up in the configuration
//   of the moment (so a PUT of its deliveryPolicy applies to deliveries already
//   queued). A subscription that is gone drops its deliveries (logged), unless the
//   configuration is older than the one the event was routed on (another instance's
//   change not seen yet): then the delivery waits for it.
// - Async authorizers run inside each delivery with the subscriber's space; the 202
//   does not wait for them. A refusal is final and not dead-lettered; an authorizer
//   that cannot be called (transport error, timeout, 5xx) fails the attempt, which is
//   retried like a failed call. System events and dead letters are never authorized.
// - System events go to async subscribers of POST "/" under both names.
//   event.received reaches every space (the Events API's paths are shared);
//   function.* events reach only the space of the function they are about (spaces
//   isolate). They are built only when someone subscribed. Deliveries of system
//   events, and authorizer calls, emit none. When the queue refuses a system event it
//   is dropped (counted in dropped_total, logged): no client is waiting for it.
// - An authorizer answer with neither `authorization` nor `error` is unauthorised.
// - An event type's `authorizerCache` (spec §6) reuses its authorizer's decisions, allow
//   and refusal alike (a malformed answer is a refusal), for requests with the same key
//   (dispatch/authorizer_key.h) during the TTL, in the sync call and in async
//   deliveries alike; a failed call is not a decision and is not cached. A request
//   without one of the key's parts calls the authorizer and caches nothing. Decisions
//   live in one AuthorizerCache of DispatchSettings::authorizerCacheSize entries, made
//   under one configuration revision: any configuration change makes them miss.
// - A dead letter goes to the dead-letter function named by the policy of the moment;
//   if there is none any more (policy changed), the delivery fails as without one.
// - A weighted function (spec §3.10) is resolved to one of its targets right before each
//   call: the sync call, each attempt of an async delivery (so attempts of one delivery
//   may reach different targets, unless it is sticky), a Gen 1 invoke, an authorizer,
//   a dead letter. The function.* system events and the logs name the target. For
//   `stickyBy: "header:…"` the original request is kept with a queued event whose
//   subscriber needs it, as for authorizers (dispatch/sticky_key.h).
//
// Metrics (labels `space`, `type`):
//   eventgateway_events_received_total   once per event and per space that has a
//       matching subscription (space "" when nothing matched); Gen 1 invoke counts
//       (space, "invoke"); a system event once per space it is delivered in.
//   eventgateway_events_processed_total  once per sync call, and once per async
//       delivery when it is done: delivered, given up, refused by an authorizer.
//   eventgateway_events_dropped_total    once per delivery refused for lack of room.
//   eventgateway_events_unauthorized_total  once per delivery or sync call an
//       authorizer refused.
//   eventgateway_events_filtered_total   once per async subscriber whose filters did not
//       match an event (nothing queued for it).
//   eventgateway_calls_limited_total     once per call a function's limits held back: a
//       sync call answered 429, or an async delivery put back to wait (no attempt
//       counted).
//   eventgateway_deliveries_retried_total, _deadlettered_total, _failed_total  once per
//       retry scheduled, per delivery handed to its dead-letter function, per delivery
//       given up without one.
//   eventgateway_events_backlog, eventgateway_queue_deliveries  deliveries queued or in
//       flight; eventgateway_queue_oldest_seconds, eventgateway_queue_bytes.
//   eventgateway_events_custom_processing_seconds  per async delivery, from queueing to
//       the end of its last call.
//   eventgateway_authorizer_cache_hits_total, _misses_total  once per authorizer
//       decision wanted for an event type with authorizerCache (cache enabled): reused,
//       or asked of the authorizer (a request without a key part included).
//   eventgateway_authorizer_cache_entries  decisions the cache holds.
//
// Observations (observe/observer.h, spec §7): `received` once per event and per space
// with a matching subscription (where received_total counts it, Gen 1 invoke and system
// events included), before any call or enqueue; then one outcome per call of a
// function — the sync call, an invoke, each attempt of an async delivery (dead letters
// included): `delivered` when it succeeded; for a sync call or an invoke `failed` when
// it did not; for an attempt `retrying`, or when the delivery is given up
// `deadlettered` or `failed`. Each call counts once, in that outcome, in
// eventgateway_function_calls_total{space,function,outcome} and its duration in
// eventgateway_function_duration_seconds, under the function called (a weighted
// function's target). The tails also see what ends a delivery without a call (its
// maxEventAge passed: deadlettered or failed, status "expired"; its subscription or
// function gone: failed, "gone"; an authorizer's refusal: failed, "unauthorized"; an
// authorizer that cannot be called: retrying, "authorizer"), and a sync call an
// authorizer refused (failed, "unauthorized"). Calls held back by a function's limits
// are no calls and are not observed. While nobody tails, an observation costs one
// relaxed load, and a call its counting.
class Dispatcher {
 public:
  // `executors` run the async deliveries (round-robin); at least one. `queue` (started)
  // must outlive the dispatcher; deliveries start with startDeliveries(). `observer`
  // (which must outlive it) is told of every event and call; null: one of its own on
  // `metrics`.
  Dispatcher(SnapshotSource source, std::vector<boost::asio::any_io_executor> executors,
             metrics::Registry& metrics, queue::DeliveryQueue& queue, DispatchSettings settings,
             observe::Observer* observer = nullptr);
  ~Dispatcher();
  Dispatcher(const Dispatcher&) = delete;
  Dispatcher& operator=(const Dispatcher&) = delete;

  // Not a coroutine: a request without CORS rules goes straight to dispatch's.
  boost::asio::awaitable<net::Response> handle(net::Request& request);

  void startDeliveries();
  void startDraining();
  bool draining() const { return draining_.load(); }
  // Refuses new events, waits for enqueues under way and, for a queue that a crash
  // loses (memory), for every queued delivery; then stops making deliveries and waits
  // for those in flight. All within `timeout`; true when nothing was left behind.
  bool waitDrained(std::chrono::milliseconds timeout);

  const queue::DeliveryQueue& queue() const { return queue_; }

 private:
  struct Counters;

  // What dispatch decided before calling any function: an answer, a Gen 1 invoke, or
  // a call of the sync subscriber with what that call needs.
  struct SyncCall {
    std::shared_ptr<const routing::Snapshot> snapshot;
    routing::Route route;
    std::string payload;                                // the event's JSON, or:
    std::shared_ptr<const queue::EventData> shared;     // when async deliveries share it
    // The event type whose authorizer is called (into *snapshot), and what it is given.
    const model::EventType* authorizer = nullptr;
    std::string requestText;
    // With a cached authorizer, requestText is written only if the authorizer is called
    // (a miss): this is the path it needs then.
    std::optional<std::string> lazyPath;
    bool gatewayBuilt = false;  // the gateway wrote the event (authorizedPayload's fast path)
    std::string_view text() const { return shared ? std::string_view(shared->payload) : payload; }
  };
  // An event with async subscribers: queue its deliveries, then answer or call `sync`.
  struct AcceptCall {
    std::shared_ptr<const routing::Snapshot> snapshot;
    std::span<const routing::Route> routes;  // into *snapshot, or into `kept`
    std::vector<routing::Route> kept;         // the routes filters left, when some had filters
    queue::EnqueueRequest request;
    std::optional<SyncCall> sync;
    std::optional<std::string> announce;     // event.received's data, when subscribed
  };
  struct InvokeCall {
    std::shared_ptr<const routing::Snapshot> snapshot;
    std::unique_ptr<events::CloudEvent> event;
  };
  // A CloudEvents batch (batch_dispatch.cc): its members' deliveries, queued together.
  struct BatchCall {
    std::shared_ptr<const routing::Snapshot> snapshot;
    std::vector<queue::EnqueueRequest> requests;
    std::vector<std::vector<routing::Route>> routes;  // each request's
    std::vector<std::string> announce;                    // event.received's data, per member
  };
  using Plan = std::variant<net::Response, SyncCall, InvokeCall, AcceptCall, BatchCall>;

  // Not a coroutine: it plans, then hands over to the coroutine the plan needs, so that
  // no coroutine frame carries what another path uses (frames stay small enough for
  // Asio's per-thread frame cache).
  boost::asio::awaitable<net::Response> dispatch(net::Request& request,
                                                 std::shared_ptr<const routing::Snapshot> snapshot,
                                                 const std::string& path);
  Plan makePlan(net::Request& request, std::shared_ptr<const routing::Snapshot> snapshot,
                const std::string& path);
  boost::asio::awaitable<net::Response> callSync(net::Request& request, SyncCall call);
  boost::asio::awaitable<net::Response> accept(net::Request& request, AcceptCall call);
  // A batch's members go to async subscribers only, admitted all or none (spec §3.8).
  Plan batchPlan(net::Request& request, std::shared_ptr<const routing::Snapshot> snapshot,
                 const std::string& path, std::vector<events::CloudEvent>& members);
  boost::asio::awaitable<net::Response> acceptBatch(net::Request& request, BatchCall call);
  // dispatch, with CORS headers added to its answer. `rules` point into `snapshot`,
  // which the frame keeps.
  boost::asio::awaitable<net::Response> dispatchWithCors(
      net::Request& request, std::shared_ptr<const routing::Snapshot> snapshot, std::string path,
      const model::CorsRules& rules);
  // The HTTP answer made of a sync subscriber's result (spec §3.3).
  static net::Response syncAnswer(const net::Request& request, std::string_view result,
                                  std::string_view space, std::string_view functionId);
  // `path` by value: dispatch returns this coroutine to a caller whose path is gone.
  boost::asio::awaitable<net::Response> invoke(net::Request& request,
                                               std::shared_ptr<const routing::Snapshot> snapshot,
                                               std::string path, events::CloudEvent event);

  // A function call, with the function.* system events around it unless `quiet`:
  // `co_await startCall(...)`, then finishCall with the result. Two plain halves rather
  // than one coroutine, so that the caller's frame is the only one the call adds.
  // `function` is the one called: for a weighted function, the target routing::pick
  // chose, which the system events and logs name; `via` then names the weighted one.
  struct CallSite {
    const std::shared_ptr<const routing::Snapshot>& snapshot;
    std::string_view space;
    std::string_view functionId;
    const routing::FunctionEntry* function;
    std::string_view payload;
    bool quiet;
    std::string_view via = {};
    providers::CallContext context = {};  // the trace context forwarded
    std::chrono::steady_clock::time_point started = {};  // set by startCall
  };
  // The call site of `function` (never null) for this call: its target when it is
  // weighted, picked by `key`.
  static CallSite siteOf(const std::shared_ptr<const routing::Snapshot>& snapshot,
                         std::string_view space, const routing::FunctionEntry& function,
                         const routing::PickKey& key, std::string_view payload, bool quiet);
  // Takes room for a call of `named` (a subscription's or invoke's function) made at
  // `site` (its weighted target, or itself) in their limits (spec §6), held by
  // `admission` until the call ends; or how long until there may be room.
  static std::optional<std::chrono::milliseconds> admit(limits::Admission& admission,
                                                        const routing::FunctionEntry& named,
                                                        const CallSite& site);
  // finishCall answers how long the call took.
  boost::asio::awaitable<Result<providers::CallResult>> startCall(CallSite& site);
  std::chrono::nanoseconds finishCall(const CallSite& site,
                                      const Result<providers::CallResult>& result);

  // Observations (observe/observation.h). `received` of an event routed to `routes` and
  // `sync`, once per space; its ID is `eventId`, or read from `eventJson` when needed.
  void observeReceived(std::span<const routing::Route> routes, const routing::Route* sync,
                       std::string_view type, std::string_view eventId,
                       std::string_view eventJson) {
    if (observer_.tails().active()) [[unlikely]] {
      publishReceived(routes, sync, type, eventId, eventJson);
    }
  }
  void publishReceived(std::span<const routing::Route> routes, const routing::Route* sync,
                       std::string_view type, std::string_view eventId,
                       std::string_view eventJson);
  // A call made at `site` that ended in `outcome`: counted; for the tails, `describe`
  // fills in the event's part of the observation (called only while someone tails).
  template <class Describe>
  void observeCall(const CallSite& site, observe::Outcome outcome,
                   const Result<providers::CallResult>& result, std::chrono::nanoseconds latency,
                   Describe&& describe) {
    if (site.function != nullptr) {
      site.function->stats.record(observer_.functions(), site.space, site.functionId, outcome,
                                  latency);
    }
    if (observer_.tails().active()) [[unlikely]] {
      observe::Observation o;
      o.space = site.space;
      o.functionId = site.functionId;
      describe(o);
      publishCall(outcome, result, latency, o);
    }
  }
  void publishCall(observe::Outcome outcome, const Result<providers::CallResult>& result,
                   std::chrono::nanoseconds latency, observe::Observation& o);
  // What an attempt of `delivery` ended in. `call`: the attempt's call, when one was
  // made (counted); else `status` says why none was (for the tails only). `error`: why
  // it failed.
  void observeDelivery(const queue::Delivery& delivery, observe::Outcome outcome,
                       uint32_t attempt, const AttemptCall& call, std::string_view status = {},
                       std::string_view error = {});

  // The function a call of `id` in `space` reaches (for a weighted one, the target `key`
  // picks), or null when there is none. A plain function, so that the key is not kept
  // in the frame of the coroutine that then makes the call.
  static const routing::FunctionEntry* callee(const routing::Snapshot& snapshot,
                                              std::string_view space, std::string_view id,
                                              const routing::PickKey& key);

  // Asks the authorizer of `type` (authorizerId set; in *snapshot), in its space, about
  // the event: the authorization to attach, or an Error when unauthorised (refused or
  // malformed answer: kInvalid with the message; failed call: another kind). The callee
  // is picked by `pick`. With an authorizerCache, a decision cached for `key` is reused
  // and a new decision cached. `lazyRequest` (with its decoded `lazyPath`): the request
  // whose http.request JSON is written for the authorizer only when it is called.
  boost::asio::awaitable<Result<boost::json::object>> authorize(
      const routing::Snapshot& snapshot, const model::EventType& type, const AuthorizerKey& key,
      const routing::PickKey& pick, std::string_view eventJson, std::string_view requestJson,
      providers::CallContext context, const net::Request* lazyRequest = nullptr,
      std::string_view lazyPath = {});

  // One attempt of an async delivery (async_delivery.cc), and what the queue does next.
  boost::asio::awaitable<Settlement> attempt(const queue::Delivery& delivery);
  // `call`: the attempt's call that made it give up, when there was one; otherwise
  // `status` says why (for the tails).
  Settlement giveUp(const queue::Delivery& delivery, const routing::Snapshot& snapshot,
                    const EffectivePolicy& policy, uint32_t attempts, std::string error,
                    const AttemptCall& call = {}, std::string_view status = "expired");
  Settlement done(const queue::Delivery& delivery);

  // Queues one delivery per subscriber of a system event whose data is `data`.
  // `space` empty: subscribers of every space; otherwise only those of that space.
  // Callers check hasSystemSubscribers first, so that nothing is built for nobody.
  void emitSystemEvent(const std::shared_ptr<const routing::Snapshot>& snapshot,
                       SystemEvent kind, std::string_view space, const std::string& data);
  static bool hasSystemSubscribers(const std::shared_ptr<const routing::Snapshot>& snapshot,
                                   SystemEvent kind);

  void countReceived(std::span<const routing::Route> routes, const routing::Route* sync,
                     std::string_view type);
  // The routes whose filters match `event` (filter_routes.cc): `routes` itself when none
  // has filters, else the matching ones copied into `kept`; each one left out is counted
  // in eventgateway_events_filtered_total. `eventText`: the event's JSON when `event`
  // holds only its type (an http.request event), read back only if a route has filters.
  std::span<const routing::Route> matchFilters(std::span<const routing::Route> routes,
                                               const events::CloudEvent& event,
                                               std::string_view eventText,
                                               std::vector<routing::Route>& kept);
  metrics::Counter& counter(metrics::CounterFamily& family, std::string_view space,
                            std::string_view type);

  SnapshotSource source_;
  metrics::CounterFamily& received_;
  metrics::CounterFamily& processed_;
  metrics::CounterFamily& dropped_;
  metrics::CounterFamily& unauthorized_;
  metrics::CounterFamily& retried_;
  metrics::CounterFamily& deadLettered_;
  metrics::CounterFamily& failed_;
  metrics::CounterFamily& filtered_;
  metrics::CounterFamily& limited_;
  metrics::CounterFamily& cacheHits_;
  metrics::CounterFamily& cacheMisses_;
  metrics::Histogram& processingSeconds_;
  queue::DeliveryQueue& queue_;
  const DispatchSettings settings_;
  DeliveryRunner runner_;
  // Shared with the metrics collector that reports its size.
  std::shared_ptr<AuthorizerCache> authorizerCache_;
  std::atomic<bool> draining_{false};
  // Enqueues begun and not answered: a drain waits for them.
  std::atomic<std::size_t> enqueuing_{0};
  const uint64_t instance_;  // tells this dispatcher's cached counters from another's
  std::unique_ptr<observe::Observer> ownObserver_;  // when none was given
  observe::Observer& observer_;
};

}  // namespace eg::dispatch
