// CloudEvents batches (spec §3.8): every member is routed by its own type to the async
// subscribers of the request's method and path, and the deliveries of all members are
// queued together, all or none, before the one answer, 202.

#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "dispatch/answers.h"
#include "dispatch/dispatcher.h"
#include "dispatch/sticky_key.h"
#include "dispatch/system_events.h"
#include "events/request_to_event.h"
#include "events/system_event.h"
#include "events/trace_context.h"

namespace eg::dispatch {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;

Dispatcher::Plan Dispatcher::batchPlan(net::Request& request,
                                       std::shared_ptr<const routing::Snapshot> snapshot,
                                       const std::string& path,
                                       std::vector<events::CloudEvent>& members) {
  for (std::size_t i = 0; i < members.size(); ++i) {
    if (events::isSystemEventType(members[i].eventType)) {
      return jsonError(request, http::status::bad_request,
                       "CloudEvent batch member " + std::to_string(i) + ": " +
                           std::string(kSystemEventRefused));
    }
  }
  const std::string_view method = request.method_string();
  const bool announce = hasSystemSubscribers(snapshot, SystemEvent::kEventReceived);
  std::string headers;
  if (announce) {
    const json::object requestData = events::httpRequestJson(request, path);
    const json::value* h = requestData.if_contains("headers");
    headers = h ? json::serialize(*h) : "{}";
  }

  const events::TraceContext trace = events::traceFromRequest(request);
  BatchCall call;
  std::vector<std::shared_ptr<queue::EventData>> needRequest;
  const queue::WallMs now = queue::nowMs();
  std::vector<routing::Route> kept;
  for (events::CloudEvent& member : members) {
    const std::span<const routing::Route> found =
        snapshot->findAsync(method, path, member.eventType);
    countReceived(found, nullptr, member.eventType);
    observeReceived(found, nullptr, member.eventType, member.eventID, {});
    if (found.empty() && !announce) continue;
    const std::span<const routing::Route> routes = matchFilters(found, member, "", kept);
    events::attachTrace(member, trace);
    auto shared = std::make_shared<queue::EventData>();
    shared->payload = events::serialize(member);
    shared->traceparent = trace.traceparent;
    shared->tracestate = trace.tracestate;
    shared->acceptedAtMs = now;
    shared->configRevision = snapshot->revision();
    if (announce) call.announce.push_back(eventReceivedData(shared->payload, path, headers));
    if (routes.empty()) continue;
    queue::EnqueueRequest enqueue;
    enqueue.targets.reserve(routes.size());
    bool keepRequest = false;
    for (const auto& route : routes) {
      const model::Subscription& sub = *route.subscription;
      enqueue.targets.push_back(
          queue::Target{sub.space, sub.subscriptionId, sub.functionId, sub.eventType, 0});
      const model::EventType* et = snapshot->eventType(sub.space, member.eventType);
      keepRequest = keepRequest || (et != nullptr && et->authorizerId) ||
                    needsRequestHeaders(route.function);
    }
    if (keepRequest) needRequest.push_back(shared);
    enqueue.event = std::move(shared);
    call.requests.push_back(std::move(enqueue));
    call.routes.emplace_back(routes.begin(), routes.end());
  }
  // The request's JSON for authorizers and header-sticky weighted functions: written
  // once, shared by the members that need it.
  if (!needRequest.empty()) {
    const std::string requestText = events::httpRequestText(request, path);
    for (const auto& shared : needRequest) shared->request = requestText;
  }

  // Counted before the drain is checked, as for single events (see makePlan).
  enqueuing_.fetch_add(1);
  if (draining_.load()) {
    enqueuing_.fetch_sub(1);
    return shuttingDown(request);
  }
  call.snapshot = std::move(snapshot);
  return call;
}

asio::awaitable<net::Response> Dispatcher::acceptBatch(net::Request& request, BatchCall call) {
  Status queued;
  if (!call.requests.empty()) {
    queued = co_await queue::asyncEnqueue(queue_, std::move(call.requests), asio::use_awaitable);
  }
  enqueuing_.fetch_sub(1);
  if (!queued) {
    for (const auto& routes : call.routes) {
      for (const auto& route : routes) {
        counter(dropped_, route.subscription->space, route.subscription->eventType).inc();
      }
    }
    spdlog::warn("CloudEvent batch refused: {}", queued.error().message);
    co_return queueRefused(request, queued.error().message);
  }
  for (const std::string& data : call.announce) {
    emitSystemEvent(call.snapshot, SystemEvent::kEventReceived, "", data);
  }
  co_return emptyResponse(request, http::status::accepted);
}

}  // namespace eg::dispatch
