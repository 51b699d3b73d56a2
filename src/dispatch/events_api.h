#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "metrics/metrics.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "routing/config_cache.h"

namespace eg::dispatch {

// | option       | default | meaning                                                     |
// |--------------|---------|-------------------------------------------------------------|
// | workers      | 100     | async deliveries in flight at once                          |
// | backlog      | 200     | async deliveries queued (not yet in flight); beyond: 503    |
struct DispatchSettings {
  std::size_t workers = 100;
  std::size_t backlog = 200;
};

// The Events API (spec §3): turns each request into an event, routes it on the current
// configuration snapshot, calls the sync subscriber or queues one delivery per async
// subscriber, emits system events. Thread-safe; never blocks on the queue.
class EventsApi {
 public:
  EventsApi(routing::ConfigCache& cache, net::IoPool& pool, metrics::Registry& metrics,
            DispatchSettings settings);
  ~EventsApi();
  EventsApi(const EventsApi&) = delete;
  EventsApi& operator=(const EventsApi&) = delete;

  boost::asio::awaitable<net::Response> handle(net::Request& request);

  // From now on new events answer 503; queued and in-flight deliveries go on.
  void startDraining();
  // Blocks until every queued and in-flight delivery has finished or `timeout` passed;
  // true when all finished. Call from a thread that is not an IoPool thread.
  bool waitDrained(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::dispatch
