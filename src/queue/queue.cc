#include "queue/queue.h"

#include <mutex>

namespace eg::queue {

EnqueueHandler allParts(std::size_t n, EnqueueHandler done) {
  if (n <= 1) return done;
  struct Parts {
    std::mutex mu;
    std::size_t left;
    Status first;
    EnqueueHandler done;
  };
  auto parts = std::make_shared<Parts>();
  parts->left = n;
  parts->done = std::move(done);
  return [parts](Status status) {
    EnqueueHandler done;
    Status result;
    {
      std::lock_guard lock(parts->mu);
      if (!status && parts->first) parts->first = std::move(status);
      if (--parts->left > 0) return;
      done = std::move(parts->done);
      result = std::move(parts->first);
    }
    done(std::move(result));
  };
}

WallMs nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::size_t Delivery::bytes() const {
  const std::size_t shared = event ? event->payload.size() + event->request.size() +
                                         event->traceparent.size() + event->tracestate.size()
                                   : 0;
  return shared + target.space.size() + target.subscriptionId.size() +
         target.functionId.size() + target.eventType.size() + lastError.size();
}

}  // namespace eg::queue
