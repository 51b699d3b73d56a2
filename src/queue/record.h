#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "queue/queue.h"

namespace eg::queue {

// The binary form of deliveries, shared by the backends that store them (the embedded
// log's records, NATS messages): one event and the state of each of its deliveries.
// Little-endian, length-prefixed; decoding checks every length against the input, so
// that any bytes at all decode to deliveries or to an Error, never to a crash.
//
//   u8 version | i64 acceptedAtMs | i64 configRevision | str payload | str request |
//   [version 2: str traceparent | str tracestate] |
//   u32 count | count × (str space | str subscriptionId | str functionId |
//                        str eventType | u8 flags | u32 attempts | i64 dueAtMs |
//                        str lastError)
//   str = u32 length + bytes
//
// An event without trace context is written as version 1, which every release reads:
// instances of an older release sharing a NATS stream, or a log written before, keep
// working. Both versions are read.

// Appends the form of `deliveries`, which must all share one event (the first's).
void encodeDeliveries(std::string& out, std::span<const Delivery> deliveries);
// Appends the form of an event's new deliveries: one per target, attempts 0, due at
// `event.acceptedAtMs`. The same bytes as encodeDeliveries of those deliveries.
void encodeNew(std::string& out, const EventData& event, std::span<const Target> targets);
// The encoded size of encodeNew's output, to reserve once.
std::size_t encodedNewSize(const EventData& event, std::span<const Target> targets);

// What the head of an encoding says, read without decoding the rest.
struct EncodedHead {
  WallMs acceptedAtMs = 0;
  uint32_t count = 0;
};
Result<EncodedHead> decodeHead(std::string_view bytes);

// The deliveries of one encoded event, sharing one EventData. kInvalid when `bytes` is
// not exactly one well-formed encoding.
Result<std::vector<Delivery>> decodeDeliveries(std::string_view bytes);

}  // namespace eg::queue
