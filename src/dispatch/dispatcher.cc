#include "dispatch/dispatcher.h"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <cctype>
#include <cmath>
#include <thread>
#include <unordered_map>
#include <utility>

#include <boost/asio/use_awaitable.hpp>
#include <boost/container/small_vector.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "common/json.h"
#include "dispatch/answers.h"
#include "dispatch/authorizer.h"
#include "dispatch/cors.h"
#include "dispatch/sticky_key.h"
#include "dispatch/sync_response.h"
#include "events/request_to_event.h"
#include "events/trace_context.h"
#include "events/system_event.h"
#include "model/resources.h"

namespace eg::dispatch {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kDefaultSpace = "default";

std::atomic<uint64_t> nextInstance{1};

// Prometheus' ExponentialBuckets(0.00001, 2, 20), as the Go gateway used.
std::vector<double> processingBuckets() {
  std::vector<double> bounds;
  double b = 0.00001;
  for (int i = 0; i < 20; ++i, b *= 2) bounds.push_back(b);
  return bounds;
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// The decoded path of a request target (origin or absolute form), without query and
// fragment. A malformed escape is kept as it is.
std::string requestPath(std::string_view target) {
  if (net::isAbsoluteForm(target)) {
    const auto authority = target.find("//") + 2;
    const auto end = target.find_first_of("/?#", authority);
    target = end == std::string_view::npos || target[end] != '/' ? std::string_view("/")
                                                                 : target.substr(end);
  }
  target = target.substr(0, target.find_first_of("?#"));
  std::string path;
  path.reserve(target.size() + 1);
  for (std::size_t i = 0; i < target.size(); ++i) {
    if (target[i] == '%' && i + 2 < target.size()) {
      const int hi = hexValue(target[i + 1]);
      const int lo = hexValue(target[i + 2]);
      if (hi >= 0 && lo >= 0) {
        path.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    path.push_back(target[i]);
  }
  if (path.empty() || path.front() != '/') path.insert(path.begin(), '/');
  return path;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string_view headerOr(const net::Request& request, std::string_view name,
                          std::string_view fallback) {
  const std::string_view value = request[name];
  return value.empty() ? fallback : value;
}

// The trace context a call forwards (spec §3.8): the request's, viewing its headers.
providers::CallContext callContext(const net::Request& request) {
  const events::TraceContext trace = events::traceFromRequest(request);
  return {trace.traceparent, trace.tracestate};
}

struct CounterKeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

Dispatcher::Dispatcher(SnapshotSource source, std::vector<asio::any_io_executor> executors,
                       metrics::Registry& metrics, queue::DeliveryQueue& queue,
                       DispatchSettings settings, observe::Observer* observer)
    : source_(std::move(source)),
      received_(metrics.counterFamily("eventgateway_events_received_total",
                                      "Events received, by space and event type.",
                                      {"space", "type"})),
      processed_(metrics.counterFamily("eventgateway_events_processed_total",
                                       "Events processed (function calls made or skipped).",
                                       {"space", "type"})),
      dropped_(metrics.counterFamily("eventgateway_events_dropped_total",
                                     "Async deliveries refused because the queue was full.",
                                     {"space", "type"})),
      unauthorized_(metrics.counterFamily("eventgateway_events_unauthorized_total",
                                          "Calls an event type's authorizer refused.",
                                          {"space", "type"})),
      retried_(metrics.counterFamily("eventgateway_deliveries_retried_total",
                                     "Async deliveries scheduled for another attempt.",
                                     {"space", "type"})),
      deadLettered_(metrics.counterFamily("eventgateway_deliveries_deadlettered_total",
                                          "Async deliveries given up and handed to their "
                                          "dead-letter function.",
                                          {"space", "type"})),
      failed_(metrics.counterFamily("eventgateway_deliveries_failed_total",
                                    "Async deliveries given up without a dead-letter function.",
                                    {"space", "type"})),
      filtered_(metrics.counterFamily("eventgateway_events_filtered_total",
                                      "Async deliveries not made because the subscription's "
                                      "filters did not match the event.",
                                      {"space", "type"})),
      limited_(metrics.counterFamily("eventgateway_calls_limited_total",
                                     "Function calls held back by the function's limits.",
                                     {"space", "type"})),
      cacheHits_(metrics.counterFamily("eventgateway_authorizer_cache_hits_total",
                                       "Authorizer decisions reused from the cache.",
                                       {"space", "type"})),
      cacheMisses_(metrics.counterFamily("eventgateway_authorizer_cache_misses_total",
                                         "Authorizer decisions of event types with an "
                                         "authorizerCache that were not cached.",
                                         {"space", "type"})),
      processingSeconds_(metrics.histogram(
          "eventgateway_events_custom_processing_seconds",
          "Time from queueing an async delivery to the end of its last function call.",
          processingBuckets())),
      queue_(queue),
      settings_(settings),
      runner_(queue, std::move(executors), settings.workers,
              [this](const queue::Delivery& d) { return attempt(d); }),
      authorizerCache_(std::make_shared<AuthorizerCache>(settings.authorizerCacheSize)),
      instance_(nextInstance.fetch_add(1)),
      ownObserver_(observer != nullptr ? nullptr : std::make_unique<observe::Observer>(metrics)),
      observer_(observer != nullptr ? *observer : *ownObserver_) {
  metrics.addCollector([cache = authorizerCache_](std::string& out) {
    out.append("# HELP eventgateway_authorizer_cache_entries Authorizer decisions cached.\n");
    out.append("# TYPE eventgateway_authorizer_cache_entries gauge\n");
    out.append("eventgateway_authorizer_cache_entries ")
        .append(metrics::formatValue(static_cast<double>(cache->size())))
        .append("\n");
  });
  // The queue's figures are read when scraped: they come from the queue's own counts
  // (another instance's deliveries included, on NATS).
  metrics.addCollector([&queue](std::string& out) {
    const queue::Stats stats = queue.stats();
    auto gauge = [&out](std::string_view name, std::string_view help, double value) {
      out.append("# HELP ").append(name).append(" ").append(help).append("\n");
      out.append("# TYPE ").append(name).append(" gauge\n");
      out.append(name).append(" ").append(metrics::formatValue(value)).append("\n");
    };
    gauge("eventgateway_events_backlog", "Async deliveries queued or in flight.",
          static_cast<double>(stats.deliveries));
    gauge("eventgateway_queue_deliveries", "Async deliveries queued or in flight.",
          static_cast<double>(stats.deliveries));
    gauge("eventgateway_queue_oldest_seconds",
          "Age of the oldest delivery in the queue, in seconds.", stats.oldestSeconds);
    gauge("eventgateway_queue_bytes", "Bytes the delivery queue holds.",
          static_cast<double>(stats.bytes));
  });
}

Dispatcher::~Dispatcher() = default;

void Dispatcher::startDeliveries() { runner_.start(); }

void Dispatcher::startDraining() { draining_.store(true); }

bool Dispatcher::waitDrained(std::chrono::milliseconds timeout) {
  startDraining();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto until = [&](auto done) {
    while (!done() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return done();
  };
  // An enqueue under way has either seen the drain (and refused) or is counted here.
  bool drained = until([this] { return enqueuing_.load() == 0; });
  // What a crash would lose is delivered before the process goes.
  if (!queue_.durable()) drained = until([this] { return queue_.stats().deliveries == 0; }) && drained;
  const auto left = std::max(std::chrono::milliseconds(0),
                             std::chrono::duration_cast<std::chrono::milliseconds>(
                                 deadline - std::chrono::steady_clock::now()));
  return runner_.stop(left) && drained;
}

metrics::Counter& Dispatcher::counter(metrics::CounterFamily& family, std::string_view space,
                                      std::string_view type) {
  // The counters this thread used last (requests of one route follow each other):
  // short string compares instead of a hashed lookup.
  struct Last {
    uint64_t instance = 0;  // not the address: a new dispatcher may get the old one's
    const void* family = nullptr;
    std::string space;
    std::string type;
    metrics::Counter* counter = nullptr;
  };
  // A few of them, searched in turn: a request counts in two families (received and
  // processed), which must not evict each other.
  thread_local std::array<Last, 4> lasts;
  thread_local std::size_t nextSlot = 0;
  for (Last& last : lasts) {
    if (last.family == &family && last.instance == instance_ && last.space == space &&
        last.type == type) {
      return *last.counter;
    }
  }
  Last& last = lasts[nextSlot];
  nextSlot = (nextSlot + 1) % lasts.size();
  // CounterFamily::with takes a lock; the request path looks its counters up in a
  // per-thread table instead. Keys name the dispatcher and the family, so tables never
  // mix counters of two registries.
  thread_local std::unordered_map<std::string, metrics::Counter*, CounterKeyHash,
                                  std::equal_to<>>
      cache;
  thread_local std::string key;
  const void* familyAddress = &family;
  key.clear();
  key.append(reinterpret_cast<const char*>(&instance_), sizeof(instance_));
  key.append(reinterpret_cast<const char*>(&familyAddress), sizeof(familyAddress));
  key.append(space);
  key.push_back('\0');
  key.append(type);
  metrics::Counter* c = nullptr;
  if (auto it = cache.find(std::string_view(key)); it != cache.end()) {
    c = it->second;
  } else {
    c = &family.with({space, type});
    cache.emplace(key, c);
  }
  last.instance = instance_;
  last.family = &family;
  last.space.assign(space);
  last.type.assign(type);
  last.counter = c;
  return *c;
}

void Dispatcher::countReceived(std::span<const routing::Route> routes,
                               const routing::Route* sync, std::string_view type) {
  if (routes.empty() && sync == nullptr) {
    // Unmatched types come from outside: label them only with the fixed http.request
    // name, so that senders cannot grow the series without bound.
    counter(received_, "", type == events::kHttpRequestEventType ? type : "").inc();
    return;
  }
  // Once per space. Subscribers come in a handful of spaces, so a quadratic scan over
  // the routes beats building a set.
  auto countOnce = [&](std::size_t index, std::string_view space) {
    if (sync != nullptr && index != 0 && sync->subscription->space == space) return;
    for (std::size_t i = 0; i + 1 < index; ++i) {
      if (routes[i].subscription->space == space) return;
    }
    counter(received_, space, type).inc();
  };
  if (sync != nullptr) countOnce(0, sync->subscription->space);
  for (std::size_t i = 0; i < routes.size(); ++i) countOnce(i + 1, routes[i].subscription->space);
}

bool Dispatcher::hasSystemSubscribers(const std::shared_ptr<const routing::Snapshot>& snapshot,
                                      SystemEvent kind) {
  // Most configurations have no system event subscribers: look that up once per
  // snapshot and thread, not on every request. The weak_ptr pins the control block, so
  // a new snapshot can never be mistaken for the cached one.
  struct Cache {
    std::weak_ptr<const routing::Snapshot> snapshot;
    unsigned mask = 0;
  };
  thread_local Cache cache;
  if (cache.snapshot.owner_before(snapshot) || snapshot.owner_before(cache.snapshot) ||
      cache.snapshot.expired()) {
    unsigned mask = 0;
    for (std::size_t k = 0; k < kSystemEventCount; ++k) {
      for (bool gen1 : {false, true}) {
        if (!snapshot->findAsync(kSystemEventMethod, kSystemEventPath,
                                 systemEventType(static_cast<SystemEvent>(k), gen1))
                 .empty()) {
          mask |= 1u << k;
        }
      }
    }
    cache.snapshot = snapshot;
    cache.mask = mask;
  }
  return (cache.mask & (1u << static_cast<std::size_t>(kind))) != 0;
}

void Dispatcher::emitSystemEvent(const std::shared_ptr<const routing::Snapshot>& snapshot,
                                 SystemEvent kind, std::string_view space,
                                 const std::string& data) {
  for (bool gen1 : {false, true}) {
    const std::string_view type = systemEventType(kind, gen1);
    std::vector<routing::Route> inSpace;
    for (const auto& route : snapshot->findAsync(kSystemEventMethod, kSystemEventPath, type)) {
      if (space.empty() || route.subscription->space == space) inSpace.push_back(route);
    }
    if (inSpace.empty()) continue;
    countReceived(inSpace, nullptr, type);
    auto event = std::make_shared<queue::EventData>();
    event->payload = systemEventJson(type, data);
    observeReceived(inSpace, nullptr, type, {}, event->payload);
    event->acceptedAtMs = queue::nowMs();
    event->configRevision = snapshot->revision();
    events::CloudEvent typeOnly;
    typeOnly.eventType = type;
    std::vector<routing::Route> kept;
    const std::span<const routing::Route> matched =
        matchFilters(inSpace, typeOnly, event->payload, kept);
    if (matched.empty()) continue;
    std::vector<routing::Route> routes(matched.begin(), matched.end());
    queue::EnqueueRequest request;
    for (const auto& route : routes) {
      const model::Subscription& sub = *route.subscription;
      request.targets.push_back(queue::Target{sub.space, sub.subscriptionId, sub.functionId,
                                              sub.eventType, queue::Target::kSystem});
    }
    request.event = std::move(event);
    // No client waits for a system event: it is queued without waiting, and dropped
    // (counted) when the queue refuses it.
    queue_.enqueue(std::move(request), [this, snapshot, routes = std::move(routes),
                                        type](Status queued) {
      if (queued) return;
      for (const auto& route : routes) counter(dropped_, route.subscription->space, type).inc();
      spdlog::warn("system event {} dropped: {}", type, queued.error().message);
    });
  }
}

namespace {

asio::awaitable<Result<providers::CallResult>> failedCall(Error error) { co_return error; }

}  // namespace

Dispatcher::CallSite Dispatcher::siteOf(const std::shared_ptr<const routing::Snapshot>& snapshot,
                                        std::string_view space,
                                        const routing::FunctionEntry& function,
                                        const routing::PickKey& key, std::string_view payload,
                                        bool quiet) {
  const routing::FunctionEntry& target = routing::pick(function, key);
  const std::string_view via =
      &target == &function ? std::string_view() : std::string_view(function.function.functionId);
  return CallSite{snapshot, space, target.function.functionId, &target, payload, quiet, via};
}

std::optional<std::chrono::milliseconds> Dispatcher::admit(limits::Admission& admission,
                                                           const routing::FunctionEntry& named,
                                                           const CallSite& site) {
  if (named.limiter == nullptr && (site.function == nullptr || site.function->limiter == nullptr)) {
    return std::nullopt;  // the usual case: no limits, nothing to take
  }
  if (auto wait = admission.take(named.limiter.get())) return wait;
  if (site.function != nullptr && site.function != &named) {
    return admission.take(site.function->limiter.get());
  }
  return std::nullopt;
}

asio::awaitable<Result<providers::CallResult>> Dispatcher::startCall(CallSite& site) {
  site.started = std::chrono::steady_clock::now();
  if (!site.quiet && hasSystemSubscribers(site.snapshot, SystemEvent::kFunctionInvoking)) {
    emitSystemEvent(site.snapshot, SystemEvent::kFunctionInvoking, site.space,
                    functionInvokingData(site.space, site.payload, site.functionId));
  }
  if (site.function == nullptr || site.function->invoker == nullptr) {
    return failedCall(Error::unavailable("function \"" + std::string(site.functionId) +
                                         "\" cannot be called"));
  }
  return site.function->invoker->call(site.payload, site.context);
}

std::chrono::nanoseconds Dispatcher::finishCall(const CallSite& site,
                                                const Result<providers::CallResult>& result) {
  const std::chrono::nanoseconds latency = std::chrono::steady_clock::now() - site.started;
  if (!result) {
    spdlog::info("function invocation failed: space={} functionId={}{}{} error={}", site.space,
                 site.functionId, site.via.empty() ? "" : " via weighted function ", site.via,
                 result.error().message);
    if (!site.quiet &&
        hasSystemSubscribers(site.snapshot, SystemEvent::kFunctionInvocationFailed)) {
      emitSystemEvent(site.snapshot, SystemEvent::kFunctionInvocationFailed, site.space,
                      functionInvocationFailedData(site.space, site.payload, site.functionId,
                                                   result.error().message));
    }
    return latency;
  }
  spdlog::debug("function invoked: space={} functionId={}{}{}", site.space, site.functionId,
                site.via.empty() ? "" : " via weighted function ", site.via);
  if (!site.quiet && hasSystemSubscribers(site.snapshot, SystemEvent::kFunctionInvoked)) {
    emitSystemEvent(site.snapshot, SystemEvent::kFunctionInvoked, site.space,
                    functionInvokedData(site.space, site.payload, site.functionId, result->body));
  }
  return latency;
}

void Dispatcher::publishReceived(std::span<const routing::Route> routes,
                                 const routing::Route* sync, std::string_view type,
                                 std::string_view eventId, std::string_view eventJson) {
  // Subscribers come in a handful of spaces and functions: scans beat sets.
  boost::container::small_vector<std::string_view, 4> spaces;
  const auto add = [](auto& list, std::string_view value) {
    if (std::find(list.begin(), list.end(), value) == list.end()) list.push_back(value);
  };
  if (sync != nullptr) add(spaces, sync->subscription->space);
  for (const auto& route : routes) add(spaces, route.subscription->space);
  boost::container::small_vector<std::string_view, 8> functions;
  for (const std::string_view space : spaces) {
    functions.clear();
    if (sync != nullptr && sync->subscription->space == space) {
      add(functions, sync->subscription->functionId);
    }
    for (const auto& route : routes) {
      if (route.subscription->space == space) add(functions, route.subscription->functionId);
    }
    observe::Observation o;
    o.outcome = observe::Outcome::kReceived;
    o.space = space;
    o.eventType = type;
    o.eventId = eventId;
    o.eventJson = eventJson;
    o.functions = functions;
    observer_.tails().publish(o);
  }
}

void Dispatcher::publishCall(observe::Outcome outcome, const Result<providers::CallResult>& result,
                             std::chrono::nanoseconds latency, observe::Observation& o) {
  o.outcome = outcome;
  o.latency = latency;
  if (o.attempt == 0) o.attempt = 1;
  if (result) {
    o.httpStatus = result->status;
  } else {
    o.httpStatus = result.error().httpStatus;
    o.errorKind = errorKindName(result.error().kind);
    o.error = result.error().message;
  }
  observer_.tails().publish(o);
}

const routing::FunctionEntry* Dispatcher::callee(const routing::Snapshot& snapshot,
                                                 std::string_view space, std::string_view id,
                                                 const routing::PickKey& key) {
  const routing::FunctionEntry* named = snapshot.function(space, id);
  return named == nullptr ? nullptr : &routing::pick(*named, key);
}

namespace {

asio::awaitable<net::Response> ready(net::Response response) { co_return response; }

}  // namespace

asio::awaitable<net::Response> Dispatcher::handle(net::Request& request) {
  if (draining_.load()) {
    return ready(shuttingDown(request));
  }
  std::shared_ptr<const routing::Snapshot> snapshot = source_();
  if (!snapshot) {
    return ready(jsonError(request, http::status::service_unavailable,
                           "configuration not loaded yet"));
  }
  std::string path = requestPath(request.target());

  // CORS only concerns requests that carry an Origin, and preflights.
  const bool preflight = isPreflight(request);
  const bool origin = !request[http::field::origin].empty();
  if (!preflight && !origin) return dispatch(request, std::move(snapshot), path);
  const model::CorsRules* rules = nullptr;
  if (preflight) {
    rules = snapshot->cors(upper(request[http::field::access_control_request_method]), path);
  } else {
    rules = snapshot->cors(request.method_string(), path);
  }
  if (rules == nullptr && isLegacyEventRequest(request, preflight)) rules = &allowAllRules();
  if (preflight && rules != nullptr) return ready(preflightResponse(*rules, request));
  if (rules == nullptr) return dispatch(request, std::move(snapshot), path);
  return dispatchWithCors(request, std::move(snapshot), std::move(path), *rules);
}

asio::awaitable<net::Response> Dispatcher::dispatchWithCors(
    net::Request& request, std::shared_ptr<const routing::Snapshot> snapshot, std::string path,
    const model::CorsRules& rules) {
  net::Response response = co_await dispatch(request, snapshot, path);
  applyCors(rules, request, response);
  co_return response;
}

// Everything up to the sync subscriber's call is decided here, in a plain function:
// the coroutine that makes the call keeps only what it needs across the call (its
// frame stays small enough for Asio's per-thread frame cache).
Dispatcher::Plan Dispatcher::makePlan(net::Request& request,
                                      std::shared_ptr<const routing::Snapshot> snapshot,
                                      const std::string& path) {
  auto answer = [](net::Response response) { return Plan(std::move(response)); };
  auto incoming = events::eventFromRequest(request, path);
  if (!incoming) {
    return answer(jsonError(request, http::status::bad_request, incoming.error().message));
  }
  if (incoming->kind == events::IncomingEvent::kBatch) {
    return batchPlan(request, std::move(snapshot), path, incoming->batch);
  }
  events::CloudEvent& event = incoming->event;
  if (events::isSystemEventType(event.eventType)) {
    return answer(jsonError(request, http::status::bad_request, kSystemEventRefused));
  }
  const events::TraceContext trace = events::traceFromRequest(request);
  events::attachTrace(event, trace);
  if (incoming->kind == events::IncomingEvent::kLegacy &&
      event.eventType == model::kInvokeEventType) {
    return InvokeCall{std::move(snapshot), std::make_unique<events::CloudEvent>(std::move(event))};
  }

  const bool httpRequest = incoming->kind == events::IncomingEvent::kHttpRequest;
  const std::string_view method = request.method_string();
  std::optional<routing::SyncMatch> sync = snapshot->findSync(method, path, event.eventType);
  const std::span<const routing::Route> found =
      snapshot->findAsync(method, path, event.eventType);
  countReceived(found, sync ? &sync->route : nullptr, event.eventType);
  observeReceived(found, sync ? &sync->route : nullptr, event.eventType,
                  events::eventId(*incoming), {});

  const bool announce = hasSystemSubscribers(snapshot, SystemEvent::kEventReceived);
  if (!sync && found.empty() && !announce) {
    if (httpRequest) {
      return answer(jsonError(request, http::status::not_found, kResourceNotFound));
    }
    return answer(emptyResponse(request, http::status::accepted));
  }

  if (sync && httpRequest) events::setPathParams(*incoming, sync->params);
  // The subscribers whose filters match; an event all of them filter out is still
  // accepted (202), not "not found".
  std::vector<routing::Route> kept;
  const std::span<const routing::Route> routes =
      found.empty() ? found
                    : matchFilters(found, event,
                                   httpRequest ? std::string_view(incoming->text) : "", kept);
  const std::string_view type = event.eventType;

  // The event's JSON is written once; the sync call and every delivery share it.
  // Authorizers read the CloudEvent back from it (see authorizedPayload).
  SyncCall call;
  call.gatewayBuilt = incoming->gatewayBuilt;
  const model::EventType* syncType =
      sync ? snapshot->eventType(sync->route.subscription->space, type) : nullptr;
  const bool syncAuthorized = syncType != nullptr && syncType->authorizerId;
  if (sync) {
    call.route = sync->route;
    if (syncAuthorized) call.authorizer = syncType;
  }
  auto announceData = [&](std::string_view payload) {
    const json::object requestData = events::httpRequestJson(request, path);
    const json::value* headers = requestData.if_contains("headers");
    return eventReceivedData(payload, path, headers ? json::serialize(*headers) : "{}");
  };

  if (routes.empty()) {
    call.payload = events::takeEventJson(*incoming);
    if (announce) {
      emitSystemEvent(snapshot, SystemEvent::kEventReceived, "", announceData(call.payload));
    }
    if (!sync) {
      if (httpRequest && found.empty()) {
        return answer(jsonError(request, http::status::not_found, kResourceNotFound));
      }
      return answer(emptyResponse(request, http::status::accepted));
    }
    if (syncAuthorized) {
      // A cache hit needs no request JSON: it is written only for a call.
      if (syncType->authorizerCache && authorizerCache_->enabled()) {
        call.lazyPath = path;
      } else {
        call.requestText = events::httpRequestText(request, path);
      }
    }
    call.snapshot = std::move(snapshot);
    return call;
  }

  // A 202 is a promise: every delivery is queued (and, in a durable queue, kept) before
  // anything else happens, the sync call included; an event the queue refuses is
  // refused whole. Counted before the drain is checked, so that waitDrained either sees
  // this enqueue or this request sees the drain.
  enqueuing_.fetch_add(1);
  if (draining_.load()) {
    enqueuing_.fetch_sub(1);
    return answer(shuttingDown(request));
  }
  auto shared = std::make_shared<queue::EventData>();
  shared->payload = events::takeEventJson(*incoming);
  shared->traceparent = trace.traceparent;
  shared->tracestate = trace.tracestate;
  shared->acceptedAtMs = queue::nowMs();
  shared->configRevision = snapshot->revision();
  AcceptCall accepted;
  accepted.request.targets.reserve(routes.size());
  bool authorized = syncAuthorized;
  bool keepRequest = false;
  for (const auto& route : routes) {
    const model::Subscription& sub = *route.subscription;
    accepted.request.targets.push_back(
        queue::Target{sub.space, sub.subscriptionId, sub.functionId, sub.eventType, 0});
    if (!authorized) {
      const model::EventType* et = snapshot->eventType(sub.space, type);
      authorized = et != nullptr && et->authorizerId;
    }
    keepRequest = keepRequest || needsRequestHeaders(route.function);
  }
  // The request's JSON for authorizers and for weighted functions sticky by a header:
  // written once, when one of them needs it.
  if (authorized || keepRequest) shared->request = events::httpRequestText(request, path);
  if (announce) accepted.announce = announceData(shared->payload);
  if (sync) {
    if (syncAuthorized) call.requestText = shared->request;
    call.shared = shared;
    call.snapshot = snapshot;
    accepted.sync = std::move(call);
  }
  accepted.request.event = std::move(shared);
  // `routes` points into *snapshot or into `kept`, whose elements stay where they are
  // when the vector moves.
  accepted.kept = std::move(kept);
  accepted.routes = routes;
  accepted.snapshot = std::move(snapshot);
  return accepted;
}

net::Response Dispatcher::syncAnswer(const net::Request& request, std::string_view result,
                                     std::string_view space, std::string_view functionId) {
  auto parsed = parseFunctionResponse(result);
  if (!parsed) {
    spdlog::info("sync subscriber's HTTP response object malformed: space={} functionId={}",
                 space, functionId);
    return jsonError(request, http::status::internal_server_error, kMalformedResponse);
  }
  // Framed (Content-Length, keep-alive) by the server as it writes the head.
  net::Response response{http::status::ok, request.version()};
  writeFunctionResponse(std::move(parsed).value(), response);
  return response;
}

asio::awaitable<net::Response> Dispatcher::dispatch(
    net::Request& request, std::shared_ptr<const routing::Snapshot> snapshot,
    const std::string& path) {
  Plan plan = makePlan(request, std::move(snapshot), path);
  if (auto* call = std::get_if<SyncCall>(&plan)) return callSync(request, std::move(*call));
  if (auto* call = std::get_if<AcceptCall>(&plan)) return accept(request, std::move(*call));
  if (auto* call = std::get_if<BatchCall>(&plan)) return acceptBatch(request, std::move(*call));
  if (auto* invokeCall = std::get_if<InvokeCall>(&plan)) {
    return invoke(request, std::move(invokeCall->snapshot), path, std::move(*invokeCall->event));
  }
  return ready(std::move(std::get<net::Response>(plan)));
}

asio::awaitable<net::Response> Dispatcher::callSync(net::Request& request, SyncCall call) {
  const model::Subscription& subscription = *call.route.subscription;
  std::string_view payload = call.text();
  std::string authorized;
  if (call.authorizer != nullptr) {
    auto authorization =
        co_await authorize(*call.snapshot, *call.authorizer, AuthorizerKey(request),
                           CallKey(request, payload), payload, call.requestText,
                           callContext(request), call.lazyPath ? &request : nullptr,
                           call.lazyPath ? std::string_view(*call.lazyPath) : std::string_view());
    if (!authorization) {
      counter(unauthorized_, subscription.space, subscription.eventType).inc();
      counter(processed_, subscription.space, subscription.eventType).inc();
      if (observer_.tails().active()) {
        observe::Observation o;
        o.outcome = observe::Outcome::kFailed;
        o.space = subscription.space;
        o.eventType = subscription.eventType;
        o.eventJson = payload;
        o.functionId = subscription.functionId;
        o.errorKind = "unauthorized";
        o.attempt = 1;
        observer_.tails().publish(o);
      }
      const auto& reason = authorization.error();
      co_return jsonError(request, http::status::forbidden,
                          reason.kind == ErrorKind::kInvalid ? std::string_view(reason.message)
                                                             : kUnauthorized);
    }
    auto withAuthorization =
        authorizedPayload(payload, std::move(authorization).value(), call.gatewayBuilt);
    if (!withAuthorization) {
      counter(processed_, subscription.space, subscription.eventType).inc();
      co_return jsonError(request, http::status::internal_server_error, kFunctionCallFailed);
    }
    authorized = std::move(withAuthorization).value();
    payload = authorized;
  }

  CallSite site = siteOf(call.snapshot, subscription.space, *call.route.function,
                               CallKey(request, payload), payload, false);
  site.context = callContext(request);
  limits::Admission admission;
  if (const auto wait = admit(admission, *call.route.function, site)) {
    counter(limited_, subscription.space, subscription.eventType).inc();
    co_return overLimits(request, site.functionId, *wait);
  }
  const auto result = co_await startCall(site);
  observeCall(site, result ? observe::Outcome::kDelivered : observe::Outcome::kFailed, result,
              finishCall(site, result), [&](observe::Observation& o) {
                o.eventType = subscription.eventType;
                o.eventJson = call.text();
              });
  counter(processed_, subscription.space, subscription.eventType).inc();
  if (!result) {
    co_return jsonError(request, http::status::internal_server_error, kFunctionCallFailed);
  }
  co_return syncAnswer(request, result->body, subscription.space, site.functionId);
}

asio::awaitable<net::Response> Dispatcher::accept(net::Request& request, AcceptCall call) {
  const std::string_view type = call.routes.front().subscription->eventType;
  const Status queued =
      co_await queue::asyncEnqueue(queue_, std::move(call.request), asio::use_awaitable);
  enqueuing_.fetch_sub(1);
  if (!queued) {
    for (const auto& route : call.routes) counter(dropped_, route.subscription->space, type).inc();
    spdlog::warn("event of type {} refused: {}", type, queued.error().message);
    co_return queueRefused(request, queued.error().message);
  }
  if (call.announce) {
    emitSystemEvent(call.snapshot, SystemEvent::kEventReceived, "", *call.announce);
  }
  if (call.sync) co_return co_await callSync(request, std::move(*call.sync));
  co_return emptyResponse(request, http::status::accepted);
}

asio::awaitable<net::Response> Dispatcher::invoke(net::Request& request,
                                                  std::shared_ptr<const routing::Snapshot> snapshot,
                                                  std::string path, events::CloudEvent event) {
  const std::string_view space = headerOr(request, "Space", kDefaultSpace);
  const std::string_view functionId = request["Function-ID"];
  const routing::Route* route =
      functionId.empty() ? nullptr : snapshot->findInvoke(space, functionId, path);
  if (route == nullptr) {
    counter(received_, "", model::kInvokeEventType).inc();
    co_return jsonError(request, http::status::not_found, kInvokeNotFound);
  }
  // Labels from the matched subscription, never from the request's headers.
  const std::string_view routeSpace = route->subscription->space;
  counter(received_, routeSpace, model::kInvokeEventType).inc();
  observeReceived(std::span<const routing::Route>(route, 1), nullptr, model::kInvokeEventType,
                  event.eventID, {});

  const std::string payload = events::serialize(event);
  if (hasSystemSubscribers(snapshot, SystemEvent::kEventReceived)) {
    const json::object requestData = events::httpRequestJson(request, path);
    const json::value* headers = requestData.if_contains("headers");
    emitSystemEvent(snapshot, SystemEvent::kEventReceived, "",
                    eventReceivedData(payload, path,
                                      headers ? json::serialize(*headers) : "{}"));
  }

  CallSite site =
      siteOf(snapshot, routeSpace, *route->function, CallKey(request, payload), payload, false);
  site.context = callContext(request);
  limits::Admission admission;
  if (const auto wait = admit(admission, *route->function, site)) {
    counter(limited_, routeSpace, model::kInvokeEventType).inc();
    co_return overLimits(request, site.functionId, *wait);
  }
  auto result = co_await startCall(site);
  observeCall(site, result ? observe::Outcome::kDelivered : observe::Outcome::kFailed, result,
              finishCall(site, result), [&](observe::Observation& o) {
                o.eventType = model::kInvokeEventType;
                o.eventId = event.eventID;
              });
  counter(processed_, routeSpace, model::kInvokeEventType).inc();
  if (!result) {
    co_return jsonError(request, http::status::internal_server_error, kFunctionCallFailed);
  }
  net::Response response{http::status::ok, request.version()};
  response.keep_alive(request.keep_alive());
  if (!result->contentType.empty()) {
    response.set(http::field::content_type, result->contentType);
  } else if (!result->body.empty()) {
    response.set(http::field::content_type, sniffContentType(result->body));
  }
  response.body() = std::move(result->body);
  response.prepare_payload();
  co_return response;
}

}  // namespace eg::dispatch
