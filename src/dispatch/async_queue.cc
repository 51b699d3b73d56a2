#include "dispatch/async_queue.h"

#include <algorithm>
#include <exception>
#include <stdexcept>
#include <utility>

#include <boost/asio/co_spawn.hpp>
#include <spdlog/spdlog.h>

namespace eg::dispatch {

namespace asio = boost::asio;

AsyncQueue::AsyncQueue(std::vector<asio::any_io_executor> executors, std::size_t workers,
                       std::size_t backlog, metrics::Gauge* backlogGauge)
    : executors_(std::move(executors)),
      workers_(std::max<std::size_t>(workers, 1)),
      capacity_(std::max<std::size_t>(workers, 1) + backlog),
      backlogGauge_(backlogGauge) {
  if (executors_.empty()) {
    throw std::invalid_argument("AsyncQueue needs at least one executor");
  }
}

AsyncQueue::~AsyncQueue() = default;

bool AsyncQueue::tryReserve(std::size_t n) {
  if (n == 0) return true;
  std::size_t used = used_.load();
  do {
    if (n > capacity_ - used) return false;
  } while (!used_.compare_exchange_weak(used, used + n));
  return true;
}

void AsyncQueue::release(std::size_t n) {
  if (n != 0) releaseSlots(n);
}

void AsyncQueue::releaseSlots(std::size_t n) {
  if (used_.fetch_sub(n) == n) {
    // Taking the lock orders the notification after a waiter's predicate check.
    std::lock_guard lock(idleMu_);
    idle_.notify_all();
  }
}

void AsyncQueue::submit(Job job) {
  if (backlogGauge_) backlogGauge_->add(1);
  {
    std::lock_guard lock(mu_);
    if (running_ >= workers_) {
      waiting_.push_back(std::move(job));
      return;
    }
    ++running_;
  }
  spawn(std::move(job));
}

std::size_t AsyncQueue::running() const {
  std::lock_guard lock(mu_);
  return running_;
}

std::size_t AsyncQueue::waiting() const {
  std::lock_guard lock(mu_);
  return waiting_.size();
}

void AsyncQueue::spawn(Job job) {
  const std::size_t i = nextExecutor_.fetch_add(1, std::memory_order_relaxed) % executors_.size();
  asio::co_spawn(executors_[i], run(std::move(job)), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("async delivery worker failed: {}", ex.what());
    } catch (...) {
      spdlog::error("async delivery worker failed with an unknown exception");
    }
  });
}

asio::awaitable<void> AsyncQueue::run(Job job) {
  try {
    co_await job();
  } catch (const std::exception& e) {
    spdlog::error("async delivery failed: {}", e.what());
  } catch (...) {
    spdlog::error("async delivery failed with an unknown exception");
  }
  job = nullptr;  // free what the job holds before its slot is given back
  finished();
}

void AsyncQueue::finished() {
  Job next;
  {
    std::lock_guard lock(mu_);
    if (waiting_.empty()) {
      --running_;
    } else {
      next = std::move(waiting_.front());
      waiting_.pop_front();
    }
  }
  if (backlogGauge_) backlogGauge_->add(-1);
  if (next) spawn(std::move(next));
  releaseSlots(1);
}

bool AsyncQueue::waitIdle(std::chrono::milliseconds timeout) {
  std::unique_lock lock(idleMu_);
  return idle_.wait_for(lock, timeout, [this] { return used_.load() == 0; });
}

}  // namespace eg::dispatch
