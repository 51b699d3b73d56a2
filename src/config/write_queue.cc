#include "config/write_queue.h"

#include <optional>

#include <boost/asio/async_result.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace eg::config {

namespace asio = boost::asio;

asio::awaitable<WriteQueue::Turn> WriteQueue::turn() {
  const auto executor = co_await asio::this_coro::executor;
  co_await asio::async_initiate<decltype(asio::use_awaitable), void()>(
      [this, &executor](asio::any_completion_handler<void()> resume) {
        Waiter waiter{executor, std::move(resume)};
        {
          std::lock_guard lock(mutex_);
          if (busy_) {
            waiting_.push_back(std::move(waiter));
            return;
          }
          busy_ = true;
        }
        wake(std::move(waiter));
      },
      asio::use_awaitable);
  co_return Turn(this);
}

void WriteQueue::release() {
  // Moved by construction: Boost 1.81's any_completion_handler move assignment recurses.
  std::optional<Waiter> next;
  {
    std::lock_guard lock(mutex_);
    if (waiting_.empty()) {
      busy_ = false;
      return;
    }
    next.emplace(std::move(waiting_.front()));
    waiting_.pop_front();
  }
  // The turn passes straight to the next write: busy_ stays set.
  wake(std::move(*next));
}

void WriteQueue::wake(Waiter waiter) {
  // Never inline: the write resumes on its own executor, after the caller is done.
  asio::post(waiter.executor,
             [resume = std::move(waiter.resume)]() mutable { std::move(resume)(); });
}

}  // namespace eg::config
