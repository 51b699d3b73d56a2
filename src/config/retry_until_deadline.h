#pragma once

#include <chrono>
#include <random>

#include <boost/asio/awaitable.hpp>

namespace eg::config {

// How a write that lost a compare to a concurrent writer tries again: at once, then after
// pauses of "full jitter" (uniformly random between 0 and a ceiling that doubles from
// kFirstPause up to kMaxPause), so that writers that collided spread out rather than
// collide again; the last attempt starts at the deadline. One per write; not thread-safe.
class RetryUntilDeadline {
 public:
  static constexpr std::chrono::microseconds kFirstPause{1000};
  static constexpr std::chrono::microseconds kMaxPause{250'000};

  explicit RetryUntilDeadline(std::chrono::steady_clock::duration budget)
      : deadline_(std::chrono::steady_clock::now() + budget) {}

  // Whether to make an attempt: true at once the first time, then true after a pause
  // (cut short at the deadline), false once the deadline has passed.
  boost::asio::awaitable<bool> next();

  // The pause before retry number `retry` (1 is the first), drawn from `random`.
  static std::chrono::microseconds pause(int retry, std::mt19937_64& random);

 private:
  std::chrono::steady_clock::time_point deadline_;
  int retries_ = -1;
};

}  // namespace eg::config
