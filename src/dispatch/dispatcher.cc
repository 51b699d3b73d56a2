#include "dispatch/dispatcher.h"

#include <array>
#include <cstdint>
#include <cctype>
#include <cmath>
#include <unordered_map>
#include <utility>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "common/json.h"
#include "dispatch/authorizer.h"
#include "dispatch/cors.h"
#include "dispatch/sync_response.h"
#include "events/request_to_event.h"
#include "events/system_event.h"
#include "model/resources.h"

namespace eg::dispatch {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

constexpr std::string_view kShuttingDown = "gateway is shutting down";
constexpr std::string_view kQueueFull =
    "too many events waiting for delivery, retry later";
constexpr std::string_view kResourceNotFound = "resource not found";
constexpr std::string_view kInvokeNotFound = "function or subscription not found";
constexpr std::string_view kSystemEventRefused =
    "system events (types starting with \"eventgateway.\" or \"gateway.\") cannot be emitted";
constexpr std::string_view kUnauthorized = "Unauthorized";
constexpr std::string_view kDefaultSpace = "default";

std::atomic<uint64_t> nextInstance{1};

// Prometheus' ExponentialBuckets(0.00001, 2, 20), as the Go gateway used.
std::vector<double> processingBuckets() {
  std::vector<double> bounds;
  double b = 0.00001;
  for (int i = 0; i < 20; ++i, b *= 2) bounds.push_back(b);
  return bounds;
}

net::Response emptyResponse(const net::Request& request, http::status status) {
  net::Response response{status, request.version()};
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

net::Response jsonError(const net::Request& request, http::status status,
                        std::string_view message) {
  net::Response response{status, request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type, "application/json");
  response.body() = errorBody(message);
  response.prepare_payload();
  return response;
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
  if (target.starts_with("http://") || target.starts_with("https://")) {
    const auto authority = target.find("//") + 2;
    const auto slash = target.find('/', authority);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
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

struct CounterKeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct Dispatcher::Delivery {
  std::shared_ptr<const routing::Snapshot> snapshot;
  routing::Route route;
  std::shared_ptr<const std::string> payload;  // the event's JSON
  // The http.request data of the original request, for authorizers; null when the
  // subscriber's event type has none.
  std::shared_ptr<const std::string> request;
  std::string_view type;  // into *snapshot or a static system event name
  bool system = false;
  std::chrono::steady_clock::time_point queuedAt;
};

Dispatcher::Dispatcher(SnapshotSource source, std::vector<asio::any_io_executor> executors,
                       metrics::Registry& metrics, DispatchSettings settings)
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
      backlog_(metrics.gauge("eventgateway_events_backlog",
                             "Async deliveries queued or in flight.")),
      processingSeconds_(metrics.histogram(
          "eventgateway_events_custom_processing_seconds",
          "Time from queueing an async delivery to the end of its function call.",
          processingBuckets())),
      queue_(std::move(executors), settings.workers, settings.backlog, &backlog_),
      instance_(nextInstance.fetch_add(1)) {}

Dispatcher::~Dispatcher() = default;

void Dispatcher::startDraining() { draining_.store(true); }

bool Dispatcher::waitDrained(std::chrono::milliseconds timeout) {
  startDraining();
  return queue_.waitIdle(timeout);
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
  std::array<std::vector<routing::Route>, 2> routes;  // [gen2, gen1]
  std::size_t total = 0;
  for (std::size_t g = 0; g < 2; ++g) {
    const auto type = systemEventType(kind, g == 1);
    for (const auto& route : snapshot->findAsync(kSystemEventMethod, kSystemEventPath, type)) {
      if (!space.empty() && route.subscription->space != space) continue;
      routes[g].push_back(route);
    }
    total += routes[g].size();
  }
  if (total == 0) return;

  if (!queue_.tryReserve(total)) {
    for (std::size_t g = 0; g < 2; ++g) {
      for (const auto& route : routes[g]) {
        counter(dropped_, route.subscription->space, systemEventType(kind, g == 1)).inc();
      }
    }
    spdlog::warn("system event {} dropped: the delivery queue is full",
                 systemEventType(kind, false));
    return;
  }

  const auto now = std::chrono::steady_clock::now();
  for (std::size_t g = 0; g < 2; ++g) {
    if (routes[g].empty()) continue;
    const auto type = systemEventType(kind, g == 1);
    countReceived(routes[g], nullptr, type);
    auto payload = std::make_shared<const std::string>(systemEventJson(type, data));
    for (const auto& route : routes[g]) {
      auto delivery = std::make_shared<Delivery>();
      delivery->snapshot = snapshot;
      delivery->route = route;
      delivery->payload = payload;
      delivery->type = type;
      delivery->system = true;
      delivery->queuedAt = now;
      queue_.submit([this, delivery = std::move(delivery)] { return deliver(delivery); });
    }
  }
}

namespace {

asio::awaitable<Result<providers::CallResult>> failedCall(Error error) { co_return error; }

}  // namespace

asio::awaitable<Result<providers::CallResult>> Dispatcher::startCall(const CallSite& site) {
  if (!site.quiet && hasSystemSubscribers(site.snapshot, SystemEvent::kFunctionInvoking)) {
    emitSystemEvent(site.snapshot, SystemEvent::kFunctionInvoking, site.space,
                    functionInvokingData(site.space, site.payload, site.functionId));
  }
  if (site.function == nullptr || site.function->invoker == nullptr) {
    return failedCall(Error::unavailable("function \"" + std::string(site.functionId) +
                                         "\" cannot be called"));
  }
  return site.function->invoker->call(site.payload);
}

void Dispatcher::finishCall(const CallSite& site, const Result<providers::CallResult>& result) {
  if (!result) {
    spdlog::info("function invocation failed: space={} functionId={} error={}", site.space,
                 site.functionId, result.error().message);
    if (!site.quiet &&
        hasSystemSubscribers(site.snapshot, SystemEvent::kFunctionInvocationFailed)) {
      emitSystemEvent(site.snapshot, SystemEvent::kFunctionInvocationFailed, site.space,
                      functionInvocationFailedData(site.space, site.payload, site.functionId,
                                                   result.error().message));
    }
    return;
  }
  spdlog::debug("function invoked: space={} functionId={}", site.space, site.functionId);
  if (!site.quiet && hasSystemSubscribers(site.snapshot, SystemEvent::kFunctionInvoked)) {
    emitSystemEvent(site.snapshot, SystemEvent::kFunctionInvoked, site.space,
                    functionInvokedData(site.space, site.payload, site.functionId, result->body));
  }
}

asio::awaitable<Result<json::object>> Dispatcher::authorize(const routing::Snapshot& snapshot,
                                                            std::string_view space,
                                                            std::string_view authorizerId,
                                                            std::string_view eventJson,
                                                            std::string_view requestJson) {
  const routing::FunctionEntry* function = snapshot.function(space, authorizerId);
  if (function == nullptr || function->invoker == nullptr) {
    spdlog::info("authorizer function {} of space {} cannot be called", authorizerId, space);
    co_return Error::unavailable("authorizer function cannot be called");
  }
  auto result = co_await function->invoker->call(authorizerPayload(eventJson, requestJson));
  if (!result) {
    spdlog::info("authorizer invocation failed: space={} functionId={} error={}", space,
                 authorizerId, result.error().message);
    co_return std::move(result).error();
  }
  auto authorization = parseAuthorizerResult(result->body);
  if (!authorization) {
    spdlog::info("authorization refused: space={} authorizerId={} reason={}", space,
                 authorizerId, authorization.error().message);
  }
  co_return authorization;
}

asio::awaitable<void> Dispatcher::deliver(std::shared_ptr<Delivery> d) {
  const std::string_view space = d->route.subscription->space;
  const std::string_view functionId = d->route.subscription->functionId;
  const std::string* payload = d->payload.get();
  std::string authorized;
  bool skip = false;

  // System events carry no request to authorize; they go out as they are.
  if (!d->system) {
    const model::EventType* eventType = d->snapshot->eventType(space, d->type);
    if (eventType != nullptr && eventType->authorizerId) {
      auto authorization =
          co_await authorize(*d->snapshot, space, *eventType->authorizerId, *d->payload,
                             d->request ? std::string_view(*d->request) : "null");
      if (!authorization) {
        spdlog::info("async delivery skipped, unauthorized: space={} functionId={} type={}",
                     space, functionId, d->type);
        counter(unauthorized_, space, d->type).inc();
        skip = true;
      } else if (auto withAuthorization =
                     authorizedPayload(*d->payload, std::move(authorization).value())) {
        authorized = std::move(withAuthorization).value();
        payload = &authorized;
      } else {
        // Our own JSON did not read back: a bug, not the authorizer's refusal.
        spdlog::error("async delivery skipped: space={} functionId={} type={}: {}", space,
                      functionId, d->type, withAuthorization.error().message);
        skip = true;
      }
    }
  }

  if (!skip) {
    const CallSite site{d->snapshot, space, functionId, d->route.function, *payload, d->system};
    const auto result = co_await startCall(site);
    finishCall(site, result);
  }
  counter(processed_, space, d->type).inc();
  processingSeconds_.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - d->queuedAt).count());
}

namespace {

asio::awaitable<net::Response> ready(net::Response response) { co_return response; }

}  // namespace

asio::awaitable<net::Response> Dispatcher::handle(net::Request& request) {
  if (draining_.load()) {
    return ready(jsonError(request, http::status::service_unavailable, kShuttingDown));
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
  events::CloudEvent& event = incoming->event;
  if (events::isSystemEventType(event.eventType)) {
    return answer(jsonError(request, http::status::bad_request, kSystemEventRefused));
  }
  if (incoming->kind == events::IncomingEvent::kLegacy &&
      event.eventType == model::kInvokeEventType) {
    return InvokeCall{std::move(snapshot), std::make_unique<events::CloudEvent>(std::move(event))};
  }

  const bool httpRequest = incoming->kind == events::IncomingEvent::kHttpRequest;
  const std::string_view method = request.method_string();
  std::optional<routing::SyncMatch> sync = snapshot->findSync(method, path, event.eventType);
  const std::span<const routing::Route> routes =
      snapshot->findAsync(method, path, event.eventType);
  countReceived(routes, sync ? &sync->route : nullptr, event.eventType);

  const bool announce = hasSystemSubscribers(snapshot, SystemEvent::kEventReceived);
  if (!sync && routes.empty() && !announce) {
    if (httpRequest) {
      return answer(jsonError(request, http::status::not_found, kResourceNotFound));
    }
    return answer(emptyResponse(request, http::status::accepted));
  }

  if (sync && httpRequest) events::setPathParams(*incoming, sync->params);
  const std::string_view type = event.eventType;

  // The event's JSON is written once; the sync call and every delivery share it.
  // Authorizers read the CloudEvent back from it (see authorizedPayload).
  SyncCall call;
  // The request's JSON for authorizers: written once, when the first one needs it.
  std::shared_ptr<const std::string> requestJson;
  if (routes.empty()) {
    call.payload = events::takeEventJson(*incoming);
  } else {
    // A 202 is a promise: take room for every delivery at once, or refuse the event
    // before anything (the sync call included) happened.
    if (!queue_.tryReserve(routes.size())) {
      for (const auto& route : routes) counter(dropped_, route.subscription->space, type).inc();
      spdlog::warn("event {} of type {} refused: the delivery queue is full",
                   events::eventId(*incoming), type);
      auto response = jsonError(request, http::status::service_unavailable, kQueueFull);
      response.set(http::field::retry_after, "1");
      return answer(std::move(response));
    }
    // Checked after reserving, so that waitDrained either sees these slots or this
    // request sees the drain.
    if (draining_.load()) {
      queue_.release(routes.size());
      return answer(jsonError(request, http::status::service_unavailable, kShuttingDown));
    }
    call.sharedPayload = std::make_shared<const std::string>(events::takeEventJson(*incoming));
    const auto now = std::chrono::steady_clock::now();
    for (const auto& route : routes) {
      auto delivery = std::make_shared<Delivery>();
      delivery->snapshot = snapshot;
      delivery->route = route;
      delivery->payload = call.sharedPayload;
      const model::EventType* et = snapshot->eventType(route.subscription->space, type);
      if (et != nullptr && et->authorizerId) {
        if (!requestJson) {
          requestJson =
              std::make_shared<const std::string>(events::httpRequestText(request, path));
        }
        delivery->request = requestJson;
      }
      // The subscription's type is the event's (routes match it exactly), and lives as
      // long as the snapshot the delivery holds.
      delivery->type = route.subscription->eventType;
      delivery->queuedAt = now;
      queue_.submit([this, delivery = std::move(delivery)] { return deliver(delivery); });
    }
  }
  const std::string_view payload = call.text();

  if (announce) {
    const json::object requestData = events::httpRequestJson(request, path);
    const json::value* headers = requestData.if_contains("headers");
    emitSystemEvent(snapshot, SystemEvent::kEventReceived, "",
                    eventReceivedData(payload, path,
                                      headers ? json::serialize(*headers) : "{}"));
  }

  if (!sync) {
    if (routes.empty() && httpRequest) {
      return answer(jsonError(request, http::status::not_found, kResourceNotFound));
    }
    return answer(emptyResponse(request, http::status::accepted));
  }

  call.route = sync->route;
  if (const model::EventType* et = snapshot->eventType(call.route.subscription->space, type);
      et != nullptr && et->authorizerId) {
    call.authorizerId = &*et->authorizerId;
    call.requestText = requestJson ? *requestJson : events::httpRequestText(request, path);
  }
  call.snapshot = std::move(snapshot);
  return call;
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
  if (auto* invokeCall = std::get_if<InvokeCall>(&plan)) {
    return invoke(request, std::move(invokeCall->snapshot), path, std::move(*invokeCall->event));
  }
  return ready(std::move(std::get<net::Response>(plan)));
}

asio::awaitable<net::Response> Dispatcher::callSync(net::Request& request, SyncCall call) {
  const model::Subscription& subscription = *call.route.subscription;
  std::string_view payload = call.text();
  std::string authorized;
  if (call.authorizerId != nullptr) {
    auto authorization = co_await authorize(*call.snapshot, subscription.space,
                                            *call.authorizerId, payload, call.requestText);
    if (!authorization) {
      counter(unauthorized_, subscription.space, subscription.eventType).inc();
      counter(processed_, subscription.space, subscription.eventType).inc();
      const auto& reason = authorization.error();
      co_return jsonError(request, http::status::forbidden,
                          reason.kind == ErrorKind::kInvalid ? std::string_view(reason.message)
                                                             : kUnauthorized);
    }
    auto withAuthorization = authorizedPayload(payload, std::move(authorization).value());
    if (!withAuthorization) {
      counter(processed_, subscription.space, subscription.eventType).inc();
      co_return jsonError(request, http::status::internal_server_error, kFunctionCallFailed);
    }
    authorized = std::move(withAuthorization).value();
    payload = authorized;
  }

  const CallSite site{call.snapshot,       subscription.space, subscription.functionId,
                      call.route.function, payload,            false};
  const auto result = co_await startCall(site);
  finishCall(site, result);
  counter(processed_, subscription.space, subscription.eventType).inc();
  if (!result) {
    co_return jsonError(request, http::status::internal_server_error, kFunctionCallFailed);
  }
  co_return syncAnswer(request, result->body, subscription.space, subscription.functionId);
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

  const std::string payload = events::serialize(event);
  if (hasSystemSubscribers(snapshot, SystemEvent::kEventReceived)) {
    const json::object requestData = events::httpRequestJson(request, path);
    const json::value* headers = requestData.if_contains("headers");
    emitSystemEvent(snapshot, SystemEvent::kEventReceived, "",
                    eventReceivedData(payload, path,
                                      headers ? json::serialize(*headers) : "{}"));
  }

  const CallSite site{snapshot, routeSpace, route->subscription->functionId, route->function,
                      payload, false};
  auto result = co_await startCall(site);
  finishCall(site, result);
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
