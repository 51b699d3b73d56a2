#include "dispatch/delivery_policy.h"

#include <algorithm>

#include <boost/json.hpp>

#include "common/json.h"

namespace eg::dispatch {

namespace json = boost::json;
using std::chrono::milliseconds;

EffectivePolicy effectivePolicy(const Boxed<model::DeliveryPolicy>& policy,
                                const DeliveryDefaults& defaults) {
  EffectivePolicy p{defaults, {}};
  if (!policy) return p;
  if (policy->retries) p.retries = *policy->retries;
  if (policy->backoff) p.backoff = *policy->backoff;
  if (policy->backoffDelay) p.backoffDelay = policy->backoffDelay->value;
  if (policy->maxBackoff) p.maxBackoff = policy->maxBackoff->value;
  if (policy->maxEventAge) p.maxEventAge = policy->maxEventAge->value;
  if (policy->deadLetterFunctionId) p.deadLetter = *policy->deadLetterFunctionId;
  return p;
}

milliseconds backoffCeiling(const EffectivePolicy& policy, uint32_t retry) {
  const int64_t base = std::max<int64_t>(policy.backoffDelay.count(), 0);
  const int64_t cap = std::max<int64_t>(policy.maxBackoff.count(), 0);
  const uint32_t n = std::max<uint32_t>(retry, 1);
  int64_t delay = base;
  switch (policy.backoff) {
    case model::Backoff::kConstant:
      break;
    case model::Backoff::kLinear:
      delay = base > 0 && static_cast<int64_t>(n) > cap / base ? cap : base * n;
      break;
    case model::Backoff::kExponential:
      // Doubling past the cap (or past 2^40) cannot come back under it.
      for (uint32_t i = 1; i < n && delay < cap && i < 40; ++i) delay *= 2;
      break;
  }
  return milliseconds(std::min(delay, cap));
}

milliseconds retryDelay(const EffectivePolicy& policy, uint32_t retry,
                        std::optional<milliseconds> retryAfter, std::mt19937_64& random) {
  if (retryAfter) return std::min(*retryAfter, policy.maxBackoff);
  const int64_t ceiling = backoffCeiling(policy, retry).count();
  if (ceiling <= 0) return milliseconds(0);
  return milliseconds(std::uniform_int_distribution<int64_t>(0, ceiling)(random));
}

CallOutcome classifyCall(const Result<providers::CallResult>& result) {
  CallOutcome out;
  if (!result) {
    const Error& e = result.error();
    out.kind = e.kind == ErrorKind::kRejected ? CallOutcome::kFinal : CallOutcome::kRetry;
    out.error = e.message;
    out.retryAfter = e.retryAfter;
    return out;
  }
  const unsigned status = result->status;
  if (status < 400) return out;
  out.error = "the function answered http " + std::to_string(status);
  out.kind = status == 408 || status == 429 ? CallOutcome::kRetry : CallOutcome::kFinal;
  if (out.kind == CallOutcome::kRetry) out.retryAfter = result->retryAfter;
  return out;
}

Result<std::string> deadLetterPayload(std::string_view eventJson, const DeadLetterInfo& info) {
  boost::system::error_code ec;
  json::value event = parseValue(eventJson, ec);
  if (ec || !event.is_object()) {
    return Error::internal("a queued event is not a JSON object");
  }
  json::object& o = event.as_object();
  if (o.contains("specversion")) {
    o["deadlettersubscription"] = info.subscriptionId;
    o["deadletterfunction"] = info.functionId;
    o["deadletterattempts"] = info.attempts;
    o["deadlettererror"] = info.error;
    return json::serialize(event);
  }
  json::value& extensions = o["extensions"];
  if (!extensions.is_object()) extensions = json::object();
  json::value& gateway = extensions.as_object()["eventgateway"];
  if (!gateway.is_object()) gateway = json::object();
  json::object letter;
  letter["subscriptionId"] = info.subscriptionId;
  letter["functionId"] = info.functionId;
  letter["attempts"] = info.attempts;
  letter["error"] = info.error;
  gateway.as_object()["deadLetter"] = std::move(letter);
  return json::serialize(event);
}

}  // namespace eg::dispatch
