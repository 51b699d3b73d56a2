// One attempt of a queued async delivery (spec §5): the step after the queue, and
// what the queue does with the delivery next. Part of Dispatcher (dispatcher.h).
#include <chrono>
#include <optional>
#include <random>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "common/duration.h"
#include "common/json.h"
#include "dispatch/authorizer.h"
#include "dispatch/dispatcher.h"
#include "dispatch/sticky_key.h"

namespace eg::dispatch {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// How long a delivery waits for a configuration that knows its subscription (one
// created on another instance, not seen here yet).
constexpr std::chrono::milliseconds kConfigWait{250};
constexpr std::size_t kMaxErrorText = 500;

std::mt19937_64& random() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return generator;
}

// The event's ID, for log lines.
std::string eventIdOf(std::string_view payload) {
  boost::system::error_code ec;
  const json::value v = parseValue(payload, ec);
  if (ec || !v.is_object()) return "?";
  for (const char* name : {"eventID", "id"}) {
    if (const json::value* id = v.as_object().if_contains(name); id && id->is_string()) {
      return std::string(id->get_string());
    }
  }
  return "?";
}

std::string bounded(std::string text) {
  if (text.size() > kMaxErrorText) {
    text.resize(kMaxErrorText);
    text += "...";
  }
  return text;
}

}  // namespace

Settlement Dispatcher::done(const queue::Delivery& d) {
  counter(processed_, d.target.space, d.target.eventType).inc();
  processingSeconds_.observe(std::max<double>(0, (queue::nowMs() - d.event->acceptedAtMs) / 1000.0));
  return Settlement{};
}

void Dispatcher::observeDelivery(const queue::Delivery& d, observe::Outcome outcome,
                                 uint32_t attempt, const AttemptCall& call,
                                 std::string_view status, std::string_view error) {
  const queue::Target& t = d.target;
  if (call.result != nullptr && call.function != nullptr) {
    call.function->stats.record(observer_.functions(), t.space, call.functionId, outcome,
                                call.latency);
  }
  if (!observer_.tails().active()) return;
  observe::Observation o;
  o.space = t.space;
  o.eventType = t.eventType;
  o.eventJson = d.event->payload;
  o.functionId = call.result != nullptr ? call.functionId : std::string_view(t.functionId);
  o.subscriptionId = t.subscriptionId;
  o.attempt = attempt;
  o.error = error;
  if (call.result != nullptr) {
    publishCall(outcome, *call.result, call.latency, o);
    return;
  }
  o.outcome = outcome;
  o.errorKind = status;
  observer_.tails().publish(o);
}

Settlement Dispatcher::giveUp(const queue::Delivery& d, const routing::Snapshot& snapshot,
                              const EffectivePolicy& policy, uint32_t attempts,
                              std::string error, const AttemptCall& call,
                              std::string_view status) {
  const queue::Target& t = d.target;
  error = bounded(std::move(error));
  const bool haveLetter = !t.deadLetter() && !policy.deadLetter.empty() &&
                          snapshot.function(t.space, policy.deadLetter) != nullptr;
  if (haveLetter) {
    auto payload = deadLetterPayload(
        d.event->payload, DeadLetterInfo{t.subscriptionId, t.functionId, attempts, error});
    if (payload) {
      Settlement s;
      s.kind = Settlement::kReplace;
      auto event = std::make_shared<queue::EventData>();
      event->payload = std::move(payload).value();
      event->traceparent = d.event->traceparent;  // the dead letter is the event's call too
      event->tracestate = d.event->tracestate;
      event->acceptedAtMs = queue::nowMs();
      event->configRevision = snapshot.revision();
      s.replacement.event = std::move(event);
      s.replacement.target = t;
      s.replacement.target.functionId = std::string(policy.deadLetter);
      s.replacement.target.flags |= queue::Target::kDeadLetter;
      s.replacement.dueAtMs = queue::nowMs();
      counter(deadLettered_, t.space, t.eventType).inc();
      observeDelivery(d, observe::Outcome::kDeadLettered, attempts, call, status, error);
      spdlog::info("delivery of event {} to function {} (space {}, subscription {}) dead-lettered "
                   "to {} after {} attempt(s): {}",
                   eventIdOf(d.event->payload), t.functionId, t.space, t.subscriptionId,
                   policy.deadLetter, attempts, error);
      done(d);
      s.kind = Settlement::kReplace;
      return s;
    }
    spdlog::error("delivery of event to function {} (space {}): {}", t.functionId, t.space,
                  payload.error().message);
  }
  counter(failed_, t.space, t.eventType).inc();
  observeDelivery(d, observe::Outcome::kFailed, attempts, call, status, error);
  spdlog::warn("delivery of event {} to function {} (space {}, subscription {}{}) failed after "
               "{} attempt(s), dropped: {}",
               eventIdOf(d.event->payload), t.functionId, t.space, t.subscriptionId,
               t.deadLetter() ? ", as its dead letter" : "", attempts, error);
  return done(d);
}

asio::awaitable<Settlement> Dispatcher::attempt(const queue::Delivery& d) {
  const queue::Target& t = d.target;
  const std::shared_ptr<const routing::Snapshot> snapshot = source_();

  // Who to call, in the configuration of the moment.
  const routing::FunctionEntry* function = nullptr;
  const model::Subscription* subscription = nullptr;
  if (snapshot) {
    if (const routing::Route* route = snapshot->findSubscription(t.space, t.subscriptionId)) {
      subscription = route->subscription;
      function = t.deadLetter() ? snapshot->function(t.space, t.functionId) : route->function;
    } else if (t.deadLetter()) {
      function = snapshot->function(t.space, t.functionId);
    }
  }
  if (function == nullptr) {
    if (!snapshot || snapshot->revision() < d.event->configRevision) {
      co_return Settlement{Settlement::kRetry, d.attempts, queue::nowMs() + kConfigWait.count(),
                           d.lastError, {}};
    }
    spdlog::info("delivery of event {} to function {} (space {}, subscription {}) dropped: {} "
                 "no longer exists",
                 eventIdOf(d.event->payload), t.functionId, t.space, t.subscriptionId,
                 t.deadLetter() ? "the dead-letter function" : "the subscription");
    if (t.deadLetter()) counter(failed_, t.space, t.eventType).inc();
    observeDelivery(d, observe::Outcome::kFailed, d.attempts, {}, "gone",
                    t.deadLetter() ? "the dead-letter function no longer exists"
                                   : "the subscription no longer exists");
    co_return done(d);
  }
  // Dead letters are retried by the defaults and never dead-lettered again. (The policy
  // keeps a view of the dead letter's name: a reference, not a copy, of the snapshot's.)
  static const Boxed<model::DeliveryPolicy> kDefaults;
  const Boxed<model::DeliveryPolicy>& given =
      t.deadLetter() || subscription == nullptr ? kDefaults : subscription->deliveryPolicy;
  const EffectivePolicy policy = effectivePolicy(given, settings_.delivery);

  const queue::WallMs now = queue::nowMs();
  if (now - d.event->acceptedAtMs > policy.maxEventAge.count()) {
    std::string why = "the event is older than its maxEventAge of " +
                      formatGoDuration(policy.maxEventAge);
    if (!d.lastError.empty()) why += "; last error: " + d.lastError;
    co_return giveUp(d, *snapshot, policy, d.attempts, std::move(why));
  }

  // Authorizers see the event as queued; the function gets it with the authorization.
  // A weighted function's sticky key comes from the event as queued and the request
  // kept with it.
  const std::string* payload = &d.event->payload;
  std::string authorized;
  std::optional<CallOutcome> outcome;
  if (!t.system() && !t.deadLetter()) {
    const model::EventType* eventType = snapshot->eventType(t.space, t.eventType);
    if (eventType != nullptr && eventType->authorizerId) {
      auto authorization = co_await authorize(
          *snapshot, *eventType, AuthorizerKey(std::string_view(d.event->request)),
          CallKey(d.event->payload, d.event->request), d.event->payload,
          d.event->request.empty() ? std::string_view("null") : std::string_view(d.event->request),
          providers::CallContext{d.event->traceparent, d.event->tracestate});
      if (!authorization) {
        const ErrorKind kind = authorization.error().kind;
        if (kind != ErrorKind::kUnavailable && kind != ErrorKind::kTimeout) {
          spdlog::info("async delivery skipped, unauthorized: space={} functionId={} type={}",
                       t.space, t.functionId, t.eventType);
          counter(unauthorized_, t.space, t.eventType).inc();
          observeDelivery(d, observe::Outcome::kFailed, d.attempts + 1, {}, "unauthorized",
                          authorization.error().message);
          co_return done(d);
        }
        outcome = CallOutcome{CallOutcome::kRetry,
                              "authorizer cannot be called: " + authorization.error().message,
                              authorization.error().retryAfter};
      } else if (auto with = authorizedPayload(d.event->payload, std::move(authorization).value())) {
        authorized = std::move(with).value();
        payload = &authorized;
      } else {
        // Our own JSON did not read back: a bug, not the authorizer's refusal.
        spdlog::error("async delivery skipped: space={} functionId={} type={}: {}", t.space,
                      t.functionId, t.eventType, with.error().message);
        co_return done(d);
      }
    }
  }

  std::optional<Result<providers::CallResult>> result;
  AttemptCall call;
  if (!outcome) {
    CallSite site = siteOf(snapshot, t.space, *function,
                                 CallKey(d.event->payload, d.event->request), *payload,
                                 t.system());
    site.context = providers::CallContext{d.event->traceparent, d.event->tracestate};
    // Over the function's limits the delivery waits for room: back in the queue until
    // then, with no attempt counted (spec §6).
    limits::Admission admission;
    if (const auto wait = admit(admission, *function, site)) {
      counter(limited_, t.space, t.eventType).inc();
      co_return Settlement{Settlement::kRetry, d.attempts, queue::nowMs() + wait->count(),
                           d.lastError, {}};
    }
    result.emplace(co_await startCall(site));
    call.latency = finishCall(site, *result);
    call.function = site.function;
    call.functionId = site.functionId;
    call.result = &*result;
    outcome = classifyCall(*result);
  }
  // Without a call, the authorizer could not be asked.
  const std::string_view status = call.result != nullptr ? "" : "authorizer";
  const uint32_t attempts = d.attempts + 1;
  switch (outcome->kind) {
    case CallOutcome::kDelivered:
      observeDelivery(d, observe::Outcome::kDelivered, attempts, call);
      co_return done(d);
    case CallOutcome::kFinal:
      co_return giveUp(d, *snapshot, policy, attempts, std::move(outcome->error), call, status);
    case CallOutcome::kRetry:
      break;
  }
  if (attempts > static_cast<uint32_t>(policy.retries)) {
    co_return giveUp(d, *snapshot, policy, attempts, std::move(outcome->error), call, status);
  }
  const auto delay = retryDelay(policy, attempts, outcome->retryAfter, random());
  const queue::WallMs due = queue::nowMs() + delay.count();
  if (due - d.event->acceptedAtMs > policy.maxEventAge.count()) {
    co_return giveUp(d, *snapshot, policy, attempts,
                     outcome->error + "; the next attempt would pass the event's maxEventAge of " +
                         formatGoDuration(policy.maxEventAge),
                     call, status);
  }
  counter(retried_, t.space, t.eventType).inc();
  observeDelivery(d, observe::Outcome::kRetrying, attempts, call, status, outcome->error);
  spdlog::debug("delivery to function {} (space {}) failed (attempt {}), retrying in {} ms: {}",
                t.functionId, t.space, attempts, delay.count(), outcome->error);
  co_return Settlement{Settlement::kRetry, attempts, due, bounded(std::move(outcome->error)), {}};
}

}  // namespace eg::dispatch
