#pragma once

#include <string_view>

#include "events/cloud_event.h"
#include "net/http_server.h"

namespace eg::events {

// The W3C trace context of an event (spec §3.8): the `traceparent` and `tracestate`
// headers of the request that brought it, forwarded on every call the event causes
// and carried in 1.0 events as the distributed-tracing extension attributes of the
// same names.
struct TraceContext {
  std::string_view traceparent;  // empty when the request had no valid one
  std::string_view tracestate;   // empty when absent, or when traceparent is
  bool empty() const { return traceparent.empty(); }
};

// The most of tracestate that is carried: W3C's 32 list members at their longest. A
// longer one is dropped whole rather than cut inside a member.
inline constexpr std::size_t kMaxTraceStateLength = 512;

// Whether `value` is a traceparent W3C Trace Context level 1 accepts: version, trace ID,
// parent ID and flags in lower-case hex, the IDs not all zeros, version not ff; version
// 00 exactly 55 characters, a later version that followed by '-' and more, or nothing.
bool isValidTraceParent(std::string_view value);

// The trace context of `request`, viewing its headers; empty when it has no valid
// traceparent (then its tracestate is not carried either, as W3C asks).
TraceContext traceFromRequest(const net::Request& request);

// Writes `trace` into a 1.0 event as its traceparent and tracestate extensions, unless
// the event has a traceparent of its own (the producer's, kept as sent). 0.1 events
// and an empty trace leave the event as it is.
void attachTrace(CloudEvent& event, TraceContext trace);

}  // namespace eg::events
