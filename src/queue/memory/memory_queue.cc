#include "queue/memory/memory_queue.h"

#include <algorithm>

namespace eg::queue {

MemoryQueue::MemoryQueue(std::size_t capacity) : capacity_(std::max<std::size_t>(capacity, 1)) {}

MemoryQueue::~MemoryQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  timerWake_.notify_all();
  if (timer_.joinable()) timer_.join();
}

Status MemoryQueue::start() {
  timer_ = std::thread([this] { timerLoop(); });
  return {};
}

void MemoryQueue::serveLocked(std::vector<TakeHandler>& handlers,
                              std::vector<std::vector<Lease>>& batches) {
  if (!waiter_ || ready_.empty()) return;
  std::vector<Lease> leases;
  const std::size_t n = std::min(waiterMax_, ready_.size());
  leases.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    leases.push_back(Lease{std::move(ready_.front()), 0, nullptr});
    ready_.pop_front();
  }
  handlers.push_back(std::move(waiter_));
  batches.push_back(std::move(leases));
  waiter_ = nullptr;
}

void MemoryQueue::wake(std::unique_lock<std::mutex>& lock) {
  std::vector<TakeHandler> handlers;
  std::vector<std::vector<Lease>> batches;
  serveLocked(handlers, batches);
  lock.unlock();
  for (std::size_t i = 0; i < handlers.size(); ++i) handlers[i](std::move(batches[i]));
}

void MemoryQueue::enqueue(EnqueueRequest request, EnqueueHandler done) {
  admit(std::span<EnqueueRequest>(&request, 1), std::move(done));
}

void MemoryQueue::enqueueAll(std::vector<EnqueueRequest> requests, EnqueueHandler done) {
  admit(requests, std::move(done));
}

void MemoryQueue::admit(std::span<EnqueueRequest> requests, EnqueueHandler done) {
  std::unique_lock lock(mu_);
  std::size_t n = 0;
  for (const EnqueueRequest& request : requests) n += request.targets.size();
  if (closed_) {
    lock.unlock();
    done(Error::unavailable("the delivery queue is closed"));
    return;
  }
  if (n > capacity_ - held_) {
    lock.unlock();
    done(Error::unavailable("too many events waiting for delivery, retry later"));
    return;
  }
  held_ += n;
  for (EnqueueRequest& request : requests) {
    for (Target& target : request.targets) {
      Delivery& d = ready_.emplace_back();
      d.event = request.event;
      d.target = std::move(target);
      d.dueAtMs = request.event->acceptedAtMs;
      bytes_ += d.bytes();
    }
  }
  std::vector<TakeHandler> handlers;
  std::vector<std::vector<Lease>> batches;
  serveLocked(handlers, batches);
  lock.unlock();
  done(Status{});
  for (std::size_t i = 0; i < handlers.size(); ++i) handlers[i](std::move(batches[i]));
}

void MemoryQueue::take(std::size_t max, TakeHandler handler) {
  std::unique_lock lock(mu_);
  if (closed_) {
    lock.unlock();
    handler({});
    return;
  }
  waiter_ = std::move(handler);
  waiterMax_ = std::max<std::size_t>(max, 1);
  wake(lock);
}

void MemoryQueue::settled(const Delivery& delivery) {
  --held_;
  bytes_ -= delivery.bytes();
}

void MemoryQueue::complete(Lease lease) {
  std::lock_guard lock(mu_);
  settled(lease.delivery);
}

void MemoryQueue::retry(Lease lease, uint32_t attempts, WallMs dueAtMs, std::string lastError) {
  std::unique_lock lock(mu_);
  Delivery& d = lease.delivery;
  bytes_ -= d.bytes();
  d.attempts = attempts;
  d.dueAtMs = dueAtMs;
  d.lastError = std::move(lastError);
  bytes_ += d.bytes();
  if (dueAtMs <= nowMs()) {
    ready_.push_front(std::move(d));
    wake(lock);
    return;
  }
  const bool earliest = delayed_.empty() || dueAtMs < delayed_.front().dueAtMs;
  delayed_.push_back(std::move(d));
  std::push_heap(delayed_.begin(), delayed_.end(), Later{});
  lock.unlock();
  if (earliest) timerWake_.notify_all();
}

void MemoryQueue::replace(Lease lease, Delivery replacement) {
  std::unique_lock lock(mu_);
  bytes_ -= lease.delivery.bytes();
  bytes_ += replacement.bytes();
  ready_.push_back(std::move(replacement));
  wake(lock);
}

void MemoryQueue::release(Lease lease) {
  std::unique_lock lock(mu_);
  ready_.push_front(std::move(lease.delivery));
  wake(lock);
}

void MemoryQueue::close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  TakeHandler waiter = std::move(waiter_);
  waiter_ = nullptr;
  lock.unlock();
  if (waiter) waiter({});
}

Stats MemoryQueue::stats() const {
  std::lock_guard lock(mu_);
  Stats s;
  s.deliveries = held_;
  s.bytes = bytes_;
  WallMs oldest = 0;
  auto consider = [&](const Delivery& d) {
    if (d.event && (oldest == 0 || d.event->acceptedAtMs < oldest)) oldest = d.event->acceptedAtMs;
  };
  // Deliveries come out in the order they were queued: the front of the ready line is
  // its oldest; retries may be older still.
  if (!ready_.empty()) consider(ready_.front());
  for (const Delivery& d : delayed_) consider(d);
  if (oldest != 0) s.oldestSeconds = std::max<double>(0, (nowMs() - oldest) / 1000.0);
  return s;
}

std::string MemoryQueue::describe() const {
  return "memory (room for " + std::to_string(capacity_) +
         " deliveries; lost if the process stops)";
}

void MemoryQueue::timerLoop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (delayed_.empty()) {
      timerWake_.wait(lock);
      continue;
    }
    const WallMs now = nowMs();
    if (delayed_.front().dueAtMs > now) {
      timerWake_.wait_for(lock, std::chrono::milliseconds(delayed_.front().dueAtMs - now));
      continue;
    }
    while (!delayed_.empty() && delayed_.front().dueAtMs <= now) {
      std::pop_heap(delayed_.begin(), delayed_.end(), Later{});
      ready_.push_front(std::move(delayed_.back()));
      delayed_.pop_back();
    }
    wake(lock);
    lock.lock();
  }
}

}  // namespace eg::queue
