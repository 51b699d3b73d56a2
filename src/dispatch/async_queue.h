#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "metrics/metrics.h"

namespace eg::dispatch {

// The bounded queue of async deliveries (spec §3.2: a 202 is a promise).
//
// Capacity is `backlog + workers` slots: deliveries waiting plus deliveries in flight.
// A caller first reserves every slot an event needs with tryReserve (all or nothing,
// lock-free), then submits one job per slot; a refused reservation leaves nothing
// behind, so the caller can answer 503 without having queued part of the event.
// Nothing ever blocks on the queue.
//
// Jobs run as coroutines spread round-robin over `executors`, at most `workers` at
// once; when one finishes the next waiting job starts. Thread-safe. The queue must
// outlive its running jobs: destroy it only after waitIdle returned true or after the
// executors stopped running.
class AsyncQueue {
 public:
  using Job = std::function<boost::asio::awaitable<void>()>;

  // `backlogGauge` (optional) follows the number of submitted jobs not yet finished.
  AsyncQueue(std::vector<boost::asio::any_io_executor> executors, std::size_t workers,
             std::size_t backlog, metrics::Gauge* backlogGauge = nullptr);
  ~AsyncQueue();
  AsyncQueue(const AsyncQueue&) = delete;
  AsyncQueue& operator=(const AsyncQueue&) = delete;

  // Reserves `n` slots at once, or none (false) when fewer than `n` are free.
  bool tryReserve(std::size_t n);
  // Returns reserved slots that will not be submitted.
  void release(std::size_t n);
  // Runs `job` in a slot taken by tryReserve. Never blocks.
  void submit(Job job);

  std::size_t capacity() const { return capacity_; }
  std::size_t workers() const { return workers_; }
  // Slots taken: reserved, waiting and running.
  std::size_t used() const { return used_.load(); }
  std::size_t running() const;
  std::size_t waiting() const;

  // Blocks until no slot is taken or `timeout` passed; true when idle. Must not be
  // called from one of the executors' threads.
  bool waitIdle(std::chrono::milliseconds timeout);

 private:
  boost::asio::awaitable<void> run(Job job);
  void spawn(Job job);
  void finished();
  void releaseSlots(std::size_t n);

  std::vector<boost::asio::any_io_executor> executors_;
  const std::size_t workers_;
  const std::size_t capacity_;
  metrics::Gauge* backlogGauge_;
  std::atomic<std::size_t> used_{0};
  std::atomic<std::size_t> nextExecutor_{0};

  mutable std::mutex mu_;
  std::deque<Job> waiting_;  // guarded by mu_
  std::size_t running_ = 0;  // guarded by mu_

  std::mutex idleMu_;
  std::condition_variable idle_;
};

}  // namespace eg::dispatch
