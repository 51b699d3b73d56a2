#pragma once

#include <deque>
#include <mutex>
#include <utility>

#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

namespace eg::config {

// Lets writes run one at a time, in the order they asked, without blocking a thread: a
// write waiting for its turn is a suspended coroutine, resumed on its own executor.
// Thread-safe. Must outlive every Turn; writes still waiting when it is destroyed are
// dropped (their coroutines destroyed, never resumed).
class WriteQueue {
 public:
  // Being the one write that runs; destroying it lets the next one in.
  class [[nodiscard]] Turn {
   public:
    Turn(Turn&& other) noexcept : queue_(std::exchange(other.queue_, nullptr)) {}
    Turn& operator=(Turn&&) = delete;
    ~Turn() {
      if (queue_ != nullptr) queue_->release();
    }

   private:
    friend class WriteQueue;
    explicit Turn(WriteQueue* queue) : queue_(queue) {}
    WriteQueue* queue_;
  };

  // Completes once every write that asked before has released its turn.
  boost::asio::awaitable<Turn> turn();

 private:
  // A suspended write and the executor it resumes on.
  struct Waiter {
    boost::asio::any_io_executor executor;
    boost::asio::any_completion_handler<void()> resume;
  };

  void release();
  static void wake(Waiter waiter);

  std::mutex mutex_;
  bool busy_ = false;
  std::deque<Waiter> waiting_;
};

}  // namespace eg::config
