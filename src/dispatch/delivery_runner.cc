#include "dispatch/delivery_runner.h"

#include <exception>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

namespace eg::dispatch {

namespace asio = boost::asio;

namespace {

void logEscaped(std::exception_ptr e, const char* what) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("{} failed: {}", what, ex.what());
  } catch (...) {
    spdlog::error("{} failed with an unknown exception", what);
  }
}

}  // namespace

DeliveryRunner::DeliveryRunner(queue::DeliveryQueue& queue,
                               std::vector<asio::any_io_executor> executors, std::size_t workers,
                               Handler handler)
    : queue_(queue),
      executors_(std::move(executors)),
      workers_(std::max<std::size_t>(workers, 1)),
      handler_(std::move(handler)) {
  if (executors_.empty()) throw std::invalid_argument("DeliveryRunner needs an executor");
  roomTimer_ = std::make_unique<asio::steady_timer>(executors_[0]);
}

DeliveryRunner::~DeliveryRunner() = default;

void DeliveryRunner::start() {
  asio::co_spawn(executors_[0], pump(), [this](std::exception_ptr e) {
    logEscaped(e, "the delivery pump");
    std::lock_guard lock(idleMu_);
    pumpDone_ = true;
    idle_.notify_all();
  });
}

asio::awaitable<void> DeliveryRunner::pump() {
  for (;;) {
    const std::size_t busy = inFlight_.load();
    if (busy >= workers_) {
      // Every worker is busy: wait for finished() to cancel the timer.
      pumpWaiting_ = true;
      if (inFlight_.load() >= workers_) {
        roomTimer_->expires_at(asio::steady_timer::time_point::max());
        co_await roomTimer_->async_wait(asio::as_tuple(asio::use_awaitable));
      }
      pumpWaiting_ = false;
      continue;
    }
    std::vector<queue::Lease> leases =
        co_await queue::asyncTake(queue_, workers_ - busy, asio::use_awaitable);
    if (leases.empty()) co_return;  // the queue was closed
    for (queue::Lease& lease : leases) {
      inFlight_.fetch_add(1);
      const auto& executor = executors_[next_++ % executors_.size()];
      asio::co_spawn(executor, run(std::move(lease)),
                     [](std::exception_ptr e) { logEscaped(e, "an async delivery"); });
    }
  }
}

asio::awaitable<void> DeliveryRunner::run(queue::Lease lease) {
  Settlement settlement;
  try {
    settlement = co_await handler_(lease.delivery);
  } catch (const std::exception& e) {
    spdlog::error("async delivery to {}/{} dropped: {}", lease.delivery.target.space,
                  lease.delivery.target.functionId, e.what());
    settlement = Settlement{};
  }
  settle(std::move(lease), std::move(settlement));
  finished();
}

void DeliveryRunner::settle(queue::Lease lease, Settlement s) {
  switch (s.kind) {
    case Settlement::kComplete:
      queue_.complete(std::move(lease));
      return;
    case Settlement::kRetry:
      queue_.retry(std::move(lease), s.attempts, s.dueAtMs, std::move(s.error));
      return;
    case Settlement::kReplace:
      queue_.replace(std::move(lease), std::move(s.replacement));
      return;
    case Settlement::kRelease:
      queue_.release(std::move(lease));
      return;
  }
}

void DeliveryRunner::finished() {
  const std::size_t before = inFlight_.fetch_sub(1);
  if (before >= workers_ && pumpWaiting_.load()) {
    asio::post(executors_[0], [this] { roomTimer_->cancel(); });
  }
  if (before == 1) {
    std::lock_guard lock(idleMu_);
    idle_.notify_all();
  }
}

bool DeliveryRunner::stop(std::chrono::milliseconds timeout) {
  queue_.close();
  std::unique_lock lock(idleMu_);
  return idle_.wait_for(lock, timeout, [this] { return inFlight_.load() == 0; });
}

}  // namespace eg::dispatch
