#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include "queue/queue.h"

namespace eg::dispatch {

// What to do with a delivery after an attempt: the queue call that settles its lease.
struct Settlement {
  enum Kind {
    kComplete,  // delivered, given up or dropped
    kRetry,     // again at dueAtMs, with attempts and error as its new state
    kReplace,   // done; `replacement` (a dead letter) goes in its place
    kRelease,   // not attempted; back to the queue as it was
  } kind = kComplete;
  uint32_t attempts = 0;
  queue::WallMs dueAtMs = 0;
  std::string error;
  queue::Delivery replacement;
};

// Makes the queue's deliveries: takes what is due, at most `workers` at once, runs each
// in a coroutine on the executors in turn, and settles its lease with what the handler
// answered. The handler never throws (one that does is logged, and the delivery
// dropped rather than tried forever).
//
// Thread-safe. The queue must outlive the runner; the executors must run until stop()
// returned, then may stop before the runner is destroyed.
class DeliveryRunner {
 public:
  using Handler = std::function<boost::asio::awaitable<Settlement>(const queue::Delivery&)>;

  DeliveryRunner(queue::DeliveryQueue& queue, std::vector<boost::asio::any_io_executor> executors,
                 std::size_t workers, Handler handler);
  ~DeliveryRunner();
  DeliveryRunner(const DeliveryRunner&) = delete;
  DeliveryRunner& operator=(const DeliveryRunner&) = delete;

  void start();
  // Closes the queue (no more deliveries are taken) and waits until the deliveries in
  // flight are settled, at most `timeout`; true when they all were. Those still running
  // then are left to the queue (made again on the next start).
  bool stop(std::chrono::milliseconds timeout);

  std::size_t inFlight() const { return inFlight_.load(); }

 private:
  boost::asio::awaitable<void> pump();
  boost::asio::awaitable<void> run(queue::Lease lease);
  void settle(queue::Lease lease, Settlement settlement);
  void finished();

  queue::DeliveryQueue& queue_;
  std::vector<boost::asio::any_io_executor> executors_;
  const std::size_t workers_;
  Handler handler_;
  std::atomic<std::size_t> inFlight_{0};
  std::size_t next_ = 0;  // the pump's round-robin over executors_
  // Wakes the pump when a worker frees up; touched only on executors_[0].
  std::unique_ptr<boost::asio::steady_timer> roomTimer_;
  std::atomic<bool> pumpWaiting_{false};
  std::atomic<bool> pumpDone_{false};
  std::mutex idleMu_;
  std::condition_variable idle_;
};

}  // namespace eg::dispatch
