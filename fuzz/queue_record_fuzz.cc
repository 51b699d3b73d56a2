// The delivery record (queue/record.h) as the embedded log and the NATS queue read it
// back: any bytes decode to deliveries or to an Error (kInvalid), never a crash. What
// decodes is exactly one encoding: the deliveries share one event, encoding them again
// gives the same bytes, decodeHead agrees with them, and deliveries that were never
// tried encode the same through encodeNew (whose size encodedNewSize predicts).

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "queue/record.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace eg::queue;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const auto head = decodeHead(bytes);
  const auto deliveries = decodeDeliveries(bytes);
  if (!head) check(!deliveries);
  if (!deliveries) {
    check(deliveries.error().kind == eg::ErrorKind::kInvalid);
    return 0;
  }
  check(!deliveries->empty() && head->count == deliveries->size());
  const auto& event = deliveries->front().event;
  check(event != nullptr && head->acceptedAtMs == event->acceptedAtMs);

  std::string again;
  encodeDeliveries(again, *deliveries);
  check(again == bytes);

  bool fresh = true;
  std::vector<Target> targets;
  for (const Delivery& d : *deliveries) {
    check(d.event == event);
    fresh = fresh && d.attempts == 0 && d.dueAtMs == event->acceptedAtMs && d.lastError.empty();
    targets.push_back(d.target);
  }
  if (fresh) {
    std::string asNew;
    encodeNew(asNew, *event, targets);
    check(asNew == bytes && encodedNewSize(*event, targets) == bytes.size());
  }
  return 0;
}
