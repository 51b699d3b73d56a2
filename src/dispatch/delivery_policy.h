#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "common/result.h"
#include "model/resources.h"
#include "providers/provider.h"

namespace eg::dispatch {

// What happens to an async delivery after an attempt (spec §5). Pure functions, safe on
// any thread.

// The gateway-wide defaults (-delivery-* flags): what a subscription's deliveryPolicy
// leaves out.
struct DeliveryDefaults {
  int retries = 10;
  model::Backoff backoff = model::Backoff::kExponential;
  std::chrono::milliseconds backoffDelay{200};
  std::chrono::milliseconds maxBackoff{60'000};
  std::chrono::milliseconds maxEventAge{24 * 3'600'000};
};

// A subscription's policy with the defaults filled in. `deadLetter` points into the
// subscription (which the snapshot keeps) and is empty when there is none.
struct EffectivePolicy : DeliveryDefaults {
  std::string_view deadLetter;
};
EffectivePolicy effectivePolicy(const Boxed<model::DeliveryPolicy>& policy,
                                const DeliveryDefaults& defaults);
// Not from a temporary (a converted std::optional, say): `deadLetter` would dangle.
EffectivePolicy effectivePolicy(Boxed<model::DeliveryPolicy>&& policy,
                                const DeliveryDefaults& defaults) = delete;

// The longest wait before retry number `retry` (1 is the first): backoffDelay times
// 2^(retry-1) (exponential), times `retry` (linear) or once (constant), at most
// maxBackoff.
std::chrono::milliseconds backoffCeiling(const EffectivePolicy& policy, uint32_t retry);

// The wait before retry number `retry`: "full jitter", uniformly random between 0 and
// the ceiling, so that deliveries that failed together do not come back together. A
// Retry-After from the function replaces it, at most maxBackoff.
std::chrono::milliseconds retryDelay(const EffectivePolicy& policy, uint32_t retry,
                                     std::optional<std::chrono::milliseconds> retryAfter,
                                     std::mt19937_64& random);

// How a call ended, for the queue: taken, worth another try (transport errors,
// timeouts, 5xx, 408, 429, throttling, function errors), or refused for good (any
// other 4xx answer). `error` says why it failed, safe to log.
struct CallOutcome {
  enum Kind { kDelivered, kRetry, kFinal } kind = kDelivered;
  std::string error;
  std::optional<std::chrono::milliseconds> retryAfter;
};
CallOutcome classifyCall(const Result<providers::CallResult>& result);

// Who gave up on the event, for its dead-letter function.
struct DeadLetterInfo {
  std::string_view subscriptionId;
  std::string_view functionId;
  uint32_t attempts = 0;
  std::string_view error;
};

// The event as a dead-letter function receives it: `eventJson` with
// extensions.eventgateway.deadLetter = {subscriptionId, functionId, attempts, error}
// (CloudEvents 0.1), or with the extension attributes deadlettersubscription,
// deadletterfunction, deadletterattempts and deadlettererror (1.0, an event with
// `specversion`). kInternal when `eventJson` is not a JSON object (the gateway wrote
// it: a bug).
Result<std::string> deadLetterPayload(std::string_view eventJson, const DeadLetterInfo& info);

}  // namespace eg::dispatch
