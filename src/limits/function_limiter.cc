#include "limits/function_limiter.h"

#include <algorithm>
#include <cmath>
#include <utility>

namespace eg::limits {

FunctionLimiter::FunctionLimiter(const model::FunctionLimits& limits)
    : rate_(limits.rate.value_or(0.0)),
      burst_(static_cast<double>(
          limits.burst.value_or(std::max<int64_t>(1, static_cast<int64_t>(std::ceil(rate_)))))),
      concurrency_(limits.concurrency.value_or(0)),
      tokens_(burst_),
      refilled_(Clock::now()) {}

std::optional<std::chrono::milliseconds> FunctionLimiter::tryAcquire(Clock::time_point now) {
  if (concurrency_ > 0) {
    if (inFlight_.fetch_add(1, std::memory_order_acq_rel) >= concurrency_) {
      inFlight_.fetch_sub(1, std::memory_order_acq_rel);
      return kConcurrencyWait;
    }
  }
  if (rate_ > 0) {
    std::lock_guard lock(mu_);
    const double elapsed = std::chrono::duration<double>(now - refilled_).count();
    if (elapsed > 0) {
      tokens_ = std::min(burst_, tokens_ + elapsed * rate_);
      refilled_ = now;
    }
    if (tokens_ < 1.0) {
      if (concurrency_ > 0) inFlight_.fetch_sub(1, std::memory_order_acq_rel);
      const double seconds = (1.0 - tokens_) / rate_;
      return std::chrono::milliseconds(
          std::max<int64_t>(1, static_cast<int64_t>(std::ceil(seconds * 1000.0))));
    }
    tokens_ -= 1.0;
  }
  return std::nullopt;
}

void FunctionLimiter::release() {
  if (concurrency_ > 0) inFlight_.fetch_sub(1, std::memory_order_acq_rel);
}

Admission::Admission(Admission&& other) noexcept {
  std::swap(held_, other.held_);
}

Admission& Admission::operator=(Admission&& other) noexcept {
  if (this != &other) {
    releaseAll();
    std::swap(held_, other.held_);
  }
  return *this;
}

Admission::~Admission() { releaseAll(); }

std::optional<std::chrono::milliseconds> Admission::take(FunctionLimiter* limiter) {
  if (limiter == nullptr) return std::nullopt;
  if (auto wait = limiter->tryAcquire()) {
    releaseAll();
    return wait;
  }
  FunctionLimiter*& slot = held_[0] == nullptr ? held_[0] : held_[1];
  slot = limiter;
  return std::nullopt;
}

void Admission::releaseAll() {
  for (FunctionLimiter*& l : held_) {
    if (l != nullptr) l->release();
    l = nullptr;
  }
}

}  // namespace eg::limits
