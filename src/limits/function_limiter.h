#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>

#include "model/resources.h"

namespace eg::limits {

// The state of one function's `limits` (model::FunctionLimits, spec §6), shared by every call of it on this instance:
// thread-safe, one short critical section per call that has a rate, an atomic counter
// for concurrency. Kept as long as the function's stored value does not change.
class FunctionLimiter {
 public:
  using Clock = std::chrono::steady_clock;
  explicit FunctionLimiter(const model::FunctionLimits& limits);

  // Room for one call now (and, with a concurrency limit, one of its slots taken until
  // release()), or how long until there may be room: the bucket's next token, or for a
  // full concurrency limit kConcurrencyWait.
  std::optional<std::chrono::milliseconds> tryAcquire(Clock::time_point now = Clock::now());
  // After a call that tryAcquire admitted.
  void release();

  // How long a call refused for concurrency is told to wait: calls are usually short.
  static constexpr std::chrono::milliseconds kConcurrencyWait{100};

 private:
  const double rate_;           // 0: no rate limit
  const double burst_;
  const int64_t concurrency_;   // 0: no concurrency limit
  std::mutex mu_;
  double tokens_;
  Clock::time_point refilled_;
  std::atomic<int64_t> inFlight_{0};
};

// Holds the room taken for one call (of a function, and of the weighted function it was
// picked by), released when the call ends.
class Admission {
 public:
  Admission() = default;
  Admission(const Admission&) = delete;
  Admission& operator=(const Admission&) = delete;
  Admission(Admission&& other) noexcept;
  Admission& operator=(Admission&& other) noexcept;
  ~Admission();

  // Takes room in `limiter` (null: none to take). On refusal nothing is held (room
  // taken earlier in this admission is given back) and the wait is returned.
  std::optional<std::chrono::milliseconds> take(FunctionLimiter* limiter);

 private:
  void releaseAll();
  FunctionLimiter* held_[2] = {nullptr, nullptr};
};

}  // namespace eg::limits
