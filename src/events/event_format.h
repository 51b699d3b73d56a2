#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "events/trace_context.h"

namespace eg::events {

// How a function asks to receive events (the http provider's eventVersion and
// eventMode, spec §3.8): in the version the event arrived in or a given one, and in
// structured or binary content mode.
enum class EventVersion { kAsReceived, k01, k10 };
enum class EventMode { kStructured, kBinary };

// An event as one HTTP request carries it: the headers it needs (Content-Type, and the
// ce-* headers of binary mode) and the body.
struct EventMessage {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// `payload` (an event's JSON as the gateway wrote it) in `version` and `mode`.
// Structured: Content-Type application/cloudevents+json and the event's JSON.
// Binary 1.0: ce-specversion, ce-id, ce-source, ce-type, then ce-time, ce-subject,
// ce-dataschema and ce-<extension> when set (values percent-encoded as the HTTP binding
// asks: space, '"', '%' and bytes outside printable ASCII; numbers and booleans as their
// JSON text); Content-Type is datacontenttype, or application/json for JSON data without
// one; the body is the data: bytes (data_base64) decoded, text as it is, other JSON as
// its text, nothing when there is no data.
// Binary 0.1: CE-EventType, CE-EventTypeVersion, CE-CloudEventsVersion, CE-Source,
// CE-EventID, CE-EventTime, CE-SchemaURL, CE-X-<Name> per extension (its first letter
// upper-cased; names that are not header tokens left out; values as above); Content-Type
// is contentType (left out when it could not be a header value: 0.1 does not check it); the body is the data read back as binary mode wrote it in: base64
// text of an opaque type decoded, other text as it is, other JSON as its text.
// A 1.0 result without a traceparent of its own carries `trace` as the distributed-
// tracing extension (an event converted from 0.1, spec §3.8).
// kInternal when `payload` is not an event (the gateway wrote it: a bug).
Result<EventMessage> formatEvent(std::string_view payload, EventVersion version, EventMode mode,
                                 TraceContext trace = {});

}  // namespace eg::events
