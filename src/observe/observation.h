#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace eg::observe {

// What became of an event at one step of its way through the gateway (spec §7).
enum class Outcome : std::uint8_t {
  kReceived,      // routed: it matched subscriptions of the space
  kDelivered,     // a call of the function succeeded (sync, or an attempt of a delivery)
  kFailed,        // a sync call failed, or a delivery was given up without a dead letter
  kRetrying,      // an attempt of a delivery failed; another is scheduled
  kDeadLettered,  // a delivery was given up and handed to its dead-letter function
};
inline constexpr std::size_t kOutcomeCount = 5;

// "received", "delivered", "failed", "retrying", "deadlettered".
std::string_view outcomeName(Outcome outcome);

// One observation as dispatch makes it: views that live for the call only. Nothing is
// copied or written unless a tail takes it (TailHub::publish).
struct Observation {
  Outcome outcome = Outcome::kReceived;
  std::string_view space;
  std::string_view eventType;
  // The event's ID; when empty, it is read from `eventJson` (the event as queued), and
  // only if a tail takes the observation.
  std::string_view eventId;
  std::string_view eventJson;
  std::string_view functionId;      // the function called; empty for kReceived
  std::string_view subscriptionId;  // the subscription of an async delivery
  // kReceived: the functions of the space the event goes to (the tail's function filter
  // matches any of them).
  std::span<const std::string_view> functions;
  unsigned httpStatus = 0;      // the function's answer, when it answered
  std::string_view errorKind;   // otherwise why nothing was delivered: "timeout", ...
  std::string_view error;       // what went wrong, safe to show (no secrets)
  std::uint32_t attempt = 0;    // 1 for a first call; 0 for kReceived
  std::chrono::nanoseconds latency{0};  // of the call; 0 when none was made
};

}  // namespace eg::observe
