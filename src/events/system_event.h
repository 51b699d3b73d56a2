#pragma once

#include <string_view>

#include <boost/json.hpp>

#include "events/cloud_event.h"

namespace eg::events {

// System events (spec §3.6): emitted by the gateway and routed like any event.
inline constexpr std::string_view kEventReceived = "eventgateway.event.received";
inline constexpr std::string_view kFunctionInvoking = "eventgateway.function.invoking";
inline constexpr std::string_view kFunctionInvoked = "eventgateway.function.invoked";
inline constexpr std::string_view kFunctionInvocationFailed =
    "eventgateway.function.invocationFailed";

// True for the reserved prefixes "eventgateway." (Gen 2) and "gateway." (Gen 1): such
// events come only from the gateway, never from outside.
bool isSystemEventType(std::string_view eventType);

// A gateway-built event (see gatewayEvent) of `type` with `data` and contentType
// "application/json". Data shapes: event.received {event, path, headers};
// function.invoking {space, event, functionId}; function.invoked {space, event,
// functionId, result}; function.invocationFailed {space, event, functionId, error}.
CloudEvent systemEvent(std::string_view type, boost::json::object data);

// The Gen 1 name of a Gen 2 system event type: "eventgateway.x" -> "gateway.x". A view
// into `gen2Type` (the Gen 1 name is its suffix); any other input is returned as is.
std::string_view gen1SystemName(std::string_view gen2Type);

}  // namespace eg::events
