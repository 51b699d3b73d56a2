#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "dispatch/delivery_policy.h"
#include "metrics/metrics.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "observe/observer.h"
#include "queue/queue.h"
#include "routing/config_cache.h"

namespace eg::dispatch {

// | option       | default | meaning                                                     |
// |--------------|---------|-------------------------------------------------------------|
// | workers      | 100     | async deliveries in flight at once (per instance)           |
// | delivery     |         | what a subscription's deliveryPolicy leaves out (-delivery-*)|
// | authorizerCacheSize | 10000 | authorizer decisions cached at most (-authorizer-cache-size); 0: none |
struct DispatchSettings {
  std::size_t workers = 100;
  DeliveryDefaults delivery = {};
  std::size_t authorizerCacheSize = 10'000;
};

// The Events API (spec §3): turns each request into an event, routes it on the current
// configuration snapshot, calls the sync subscriber or queues one delivery per async
// subscriber, emits system events; and makes the queued deliveries (spec §5).
// Thread-safe; never blocks on the queue. `queue` must be started and outlive it.
class EventsApi {
 public:
  // `observer` (outliving it) is told of every event and call; null: one of its own.
  EventsApi(routing::ConfigCache& cache, net::IoPool& pool, metrics::Registry& metrics,
            queue::DeliveryQueue& queue, DispatchSettings settings,
            observe::Observer* observer = nullptr);
  ~EventsApi();
  EventsApi(const EventsApi&) = delete;
  EventsApi& operator=(const EventsApi&) = delete;

  boost::asio::awaitable<net::Response> handle(net::Request& request);

  // From now on new events answer 503; queued and in-flight deliveries go on.
  void startDraining();
  // Stops making deliveries (see Dispatcher::waitDrained): a memory queue is emptied
  // first, a durable one keeps what is left for the next start. True when nothing was
  // left behind in flight. Call from a thread that is not an IoPool thread.
  bool waitDrained(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::dispatch
