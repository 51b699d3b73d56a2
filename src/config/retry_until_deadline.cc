#include "config/retry_until_deadline.h"

#include <algorithm>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace eg::config {

namespace asio = boost::asio;

std::chrono::microseconds RetryUntilDeadline::pause(int retry, std::mt19937_64& random) {
  // 2^20 ms is far beyond kMaxPause: the shift stops there rather than overflow.
  const auto ceiling = std::min<std::chrono::microseconds>(
      kMaxPause, kFirstPause * (int64_t{1} << std::clamp(retry - 1, 0, 20)));
  return std::chrono::microseconds(
      std::uniform_int_distribution<int64_t>(0, ceiling.count())(random));
}

asio::awaitable<bool> RetryUntilDeadline::next() {
  if (++retries_ == 0) co_return true;
  const auto now = std::chrono::steady_clock::now();
  if (now >= deadline_) co_return false;
  thread_local std::mt19937_64 random{std::random_device{}()};
  asio::steady_timer timer(co_await asio::this_coro::executor,
                           std::min<std::chrono::steady_clock::duration>(pause(retries_, random),
                                                                         deadline_ - now));
  const auto [error] = co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
  co_return !error;
}

}  // namespace eg::config
