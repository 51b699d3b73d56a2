#pragma once

#include <string>
#include <string_view>

#include "events/cloud_event.h"

namespace eg::events {

// Attributes of the events the gateway builds itself (spec §3.1).
inline constexpr std::string_view kGatewaySource =
    "https://serverless.com/event-gateway/#transformationVersion=0.1";
inline constexpr std::string_view kTransformationVersion = "0.1";
inline constexpr std::string_view kCloudEventsVersion = "0.1";

// The marker's JSON, as the extensions of a gateway-built event.
inline constexpr std::string_view kGatewayExtensionsJson =
    R"({"eventgateway":{"transformed":"true","transformation-version":"0.1"}})";

// A random UUID v4 in its 36-character text form. A thread-local generator seeded
// once per thread from std::random_device: cheap, thread-safe, not cryptographic.
std::string newEventId();
void appendEventId(std::string& out);

// The current time as RFC 3339 UTC with milliseconds, e.g. "2018-04-05T17:31:00.123Z".
std::string nowRfc3339();
void appendRfc3339(std::string& out);

// An event of `eventType` with a new eventID, the current eventTime, the gateway
// source, cloudEventsVersion "0.1" and the gateway's marker in extensions (`marked`:
// eventgateway = {"transformed":"true","transformation-version":"0.1"}); data is null and
// contentType absent, for the caller to fill.
CloudEvent gatewayEvent(std::string eventType);

}  // namespace eg::events
