#include "queue/queue.h"

namespace eg::queue {

WallMs nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::size_t Delivery::bytes() const {
  const std::size_t shared = event ? event->payload.size() + event->request.size() : 0;
  return shared + target.space.size() + target.subscriptionId.size() +
         target.functionId.size() + target.eventType.size() + lastError.size();
}

}  // namespace eg::queue
