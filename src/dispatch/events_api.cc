#include "dispatch/events_api.h"

#include <utility>
#include <vector>

#include "dispatch/dispatcher.h"

namespace eg::dispatch {

namespace {

std::vector<boost::asio::any_io_executor> executorsOf(net::IoPool& pool) {
  std::vector<boost::asio::any_io_executor> executors;
  executors.reserve(pool.size());
  for (std::size_t i = 0; i < pool.size(); ++i) {
    executors.emplace_back(pool.context(i).get_executor());
  }
  return executors;
}

}  // namespace

struct EventsApi::Impl {
  Impl(routing::ConfigCache& cache, net::IoPool& pool, metrics::Registry& metrics,
       queue::DeliveryQueue& queue, DispatchSettings settings, observe::Observer* observer)
      : dispatcher([&cache] { return cache.snapshot(); }, executorsOf(pool), metrics, queue,
                   settings, observer) {
    dispatcher.startDeliveries();
  }
  Dispatcher dispatcher;
};

EventsApi::EventsApi(routing::ConfigCache& cache, net::IoPool& pool, metrics::Registry& metrics,
                     queue::DeliveryQueue& queue, DispatchSettings settings,
                     observe::Observer* observer)
    : impl_(std::make_unique<Impl>(cache, pool, metrics, queue, settings, observer)) {}

EventsApi::~EventsApi() = default;

boost::asio::awaitable<net::Response> EventsApi::handle(net::Request& request) {
  return impl_->dispatcher.handle(request);
}

void EventsApi::startDraining() { impl_->dispatcher.startDraining(); }

bool EventsApi::waitDrained(std::chrono::milliseconds timeout) {
  return impl_->dispatcher.waitDrained(timeout);
}

}  // namespace eg::dispatch
