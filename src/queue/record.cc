#include "queue/record.h"

#include <bit>
#include <cstring>
#include <limits>

namespace eg::queue {
namespace {

constexpr uint8_t kVersion1 = 1;
constexpr uint8_t kVersion2 = 2;  // with the trace context

bool traced(const EventData& event) {
  return !event.traceparent.empty() || !event.tracestate.empty();
}
// u32 count of deliveries; a delivery holds at least 4 lengths, flags, attempts, due
// and the error's length.
constexpr std::size_t kMinDeliveryBytes = 4 * 4 + 1 + 4 + 8 + 4;

template <class T>
void put(std::string& out, T value) {
  char bytes[sizeof(T)];
  std::memcpy(bytes, &value, sizeof(T));  // little-endian hosts only (checked below)
  out.append(bytes, sizeof(T));
}

void putString(std::string& out, std::string_view s) {
  put<uint32_t>(out, static_cast<uint32_t>(s.size()));
  out.append(s);
}

static_assert(std::endian::native == std::endian::little, "the record format is little-endian");

void putHead(std::string& out, const EventData& event, std::size_t count) {
  const bool trace = traced(event);
  put<uint8_t>(out, trace ? kVersion2 : kVersion1);
  put<int64_t>(out, event.acceptedAtMs);
  put<int64_t>(out, event.configRevision);
  putString(out, event.payload);
  putString(out, event.request);
  if (trace) {
    putString(out, event.traceparent);
    putString(out, event.tracestate);
  }
  put<uint32_t>(out, static_cast<uint32_t>(count));
}

void putDelivery(std::string& out, const Target& t, uint32_t attempts, WallMs due,
                 std::string_view lastError) {
  putString(out, t.space);
  putString(out, t.subscriptionId);
  putString(out, t.functionId);
  putString(out, t.eventType);
  put<uint8_t>(out, t.flags);
  put<uint32_t>(out, attempts);
  put<int64_t>(out, due);
  putString(out, lastError);
}

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  template <class T>
  bool get(T& value) {
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(&value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  bool skipString() {
    uint32_t n = 0;
    if (!get(n) || in_.size() < n) return false;
    in_.remove_prefix(n);
    return true;
  }
  bool getString(std::string& s) {
    uint32_t n = 0;
    if (!get(n) || in_.size() < n) return false;
    s.assign(in_.data(), n);
    in_.remove_prefix(n);
    return true;
  }
  std::size_t left() const { return in_.size(); }

 private:
  std::string_view in_;
};

}  // namespace

void encodeDeliveries(std::string& out, std::span<const Delivery> deliveries) {
  static const EventData kNone;
  const EventData& event = deliveries.empty() || !deliveries.front().event
                               ? kNone
                               : *deliveries.front().event;
  putHead(out, event, deliveries.size());
  for (const Delivery& d : deliveries) {
    putDelivery(out, d.target, d.attempts, d.dueAtMs, d.lastError);
  }
}

std::size_t encodedNewSize(const EventData& event, std::span<const Target> targets) {
  std::size_t n = 1 + 8 + 8 + 4 + event.payload.size() + 4 + event.request.size() + 4;
  if (traced(event)) n += 4 + event.traceparent.size() + 4 + event.tracestate.size();
  for (const Target& t : targets) {
    n += kMinDeliveryBytes + t.space.size() + t.subscriptionId.size() + t.functionId.size() +
         t.eventType.size();
  }
  return n;
}

void encodeNew(std::string& out, const EventData& event, std::span<const Target> targets) {
  out.reserve(out.size() + encodedNewSize(event, targets));
  putHead(out, event, targets.size());
  for (const Target& t : targets) putDelivery(out, t, 0, event.acceptedAtMs, {});
}

Result<EncodedHead> decodeHead(std::string_view bytes) {
  Reader r(bytes);
  uint8_t version = 0;
  int64_t revision = 0;
  EncodedHead head;
  if (!r.get(version) || (version != kVersion1 && version != kVersion2) ||
      !r.get(head.acceptedAtMs) || !r.get(revision) || !r.skipString() || !r.skipString() ||
      (version == kVersion2 && (!r.skipString() || !r.skipString())) || !r.get(head.count)) {
    return Error::invalid("malformed delivery record head");
  }
  return head;
}

Result<std::vector<Delivery>> decodeDeliveries(std::string_view bytes) {
  Reader r(bytes);
  auto bad = [](std::string_view what) {
    return Error::invalid("malformed delivery record: " + std::string(what));
  };
  uint8_t version = 0;
  if (!r.get(version)) return bad("empty");
  if (version != kVersion1 && version != kVersion2) {
    return bad("unknown version " + std::to_string(version));
  }
  auto event = std::make_shared<EventData>();
  uint32_t count = 0;
  if (!r.get(event->acceptedAtMs) || !r.get(event->configRevision) ||
      !r.getString(event->payload) || !r.getString(event->request) ||
      (version == kVersion2 &&
       (!r.getString(event->traceparent) || !r.getString(event->tracestate))) ||
      !r.get(count)) {
    return bad("truncated event");
  }
  // Version 2 is written only with a trace context: one event, one encoding.
  if (version == kVersion2 && !traced(*event)) return bad("version 2 without trace context");
  if (count == 0 || count > r.left() / kMinDeliveryBytes) return bad("impossible count");
  std::vector<Delivery> out(count);
  for (Delivery& d : out) {
    d.event = event;
    Target& t = d.target;
    if (!r.getString(t.space) || !r.getString(t.subscriptionId) || !r.getString(t.functionId) ||
        !r.getString(t.eventType) || !r.get(t.flags) || !r.get(d.attempts) ||
        !r.get(d.dueAtMs) || !r.getString(d.lastError)) {
      return bad("truncated delivery");
    }
  }
  if (r.left() != 0) return bad("trailing bytes");
  return out;
}

}  // namespace eg::queue
