#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "queue/queue.h"

namespace eg::queue {

// `-queue memory`: the bounded in-memory queue. The fastest; a crash or a restart loses
// what it holds (SIGTERM waits for it to empty, bounded).
//
// Room for `capacity` deliveries (-workers + -workers-backlog), counted from enqueue to
// settlement: waiting, in flight and waiting for a retry. An event that does not fit
// whole is refused. Deliveries come out in the order they were queued; retries when
// they are due, before newer ones. One thread of its own sleeps until the next retry is
// due; everything else happens on the callers' threads under one lock.
class MemoryQueue final : public DeliveryQueue {
 public:
  explicit MemoryQueue(std::size_t capacity);
  ~MemoryQueue() override;

  Status start() override;
  void enqueue(EnqueueRequest request, EnqueueHandler done) override;
  void enqueueAll(std::vector<EnqueueRequest> requests, EnqueueHandler done) override;
  void take(std::size_t max, TakeHandler handler) override;
  void complete(Lease lease) override;
  void retry(Lease lease, uint32_t attempts, WallMs dueAtMs, std::string lastError) override;
  void replace(Lease lease, Delivery replacement) override;
  void release(Lease lease) override;
  void close() override;
  Stats stats() const override;
  std::string describe() const override;
  bool durable() const override { return false; }

 private:
  struct Later {  // orders the retry heap: earliest due on top
    bool operator()(const Delivery& a, const Delivery& b) const { return a.dueAtMs > b.dueAtMs; }
  };

  // enqueue and enqueueAll: every request's deliveries, or none when they do not fit.
  void admit(std::span<EnqueueRequest> requests, EnqueueHandler done);
  // Answers the waiting take when something is ready. Called with the lock held;
  // returns the handler to call (outside the lock) and its leases.
  void serveLocked(std::vector<TakeHandler>& handlers, std::vector<std::vector<Lease>>& batches);
  void settled(const Delivery& delivery);
  void wake(std::unique_lock<std::mutex>& lock);
  void timerLoop();

  const std::size_t capacity_;
  mutable std::mutex mu_;
  std::condition_variable timerWake_;
  std::deque<Delivery> ready_;
  std::vector<Delivery> delayed_;  // a heap by Later
  std::size_t held_ = 0;           // from enqueue to settlement
  uint64_t bytes_ = 0;             // Delivery::bytes of what is held
  TakeHandler waiter_;
  std::size_t waiterMax_ = 0;
  bool closed_ = false;
  bool stopping_ = false;
  std::thread timer_;
};

}  // namespace eg::queue
