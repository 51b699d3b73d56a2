// Retry-After parsing (providers/retry_after). Input: the clock ("now", seconds since the
// epoch) on the first line, the header value after it. Checks: a result is within
// [0, kMaxRetryAfter]; delay-seconds read exactly (capped); a date is a point in time,
// so one second later the wait is one second shorter (or still 0).

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdlib>

#include "byte_reader.h"
#include "providers/retry_after.h"

namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::system_clock;
using eg::providers::kMaxRetryAfter;
using eg::providers::parseRetryAfter;

// system_clock counts nanoseconds in 64 bits: about 292 years either side of 1970.
constexpr std::int64_t kClockRange = 9'000'000'000;

std::string_view trimmed(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eg::fuzz::ByteReader in(data, size);
  const std::string_view clock = in.line();
  std::int64_t nowSeconds = 1'445'412'480;  // Wed, 21 Oct 2015 07:28:00 GMT
  std::from_chars(clock.data(), clock.data() + clock.size(), nowSeconds);
  nowSeconds = std::clamp(nowSeconds, -kClockRange, kClockRange);
  const system_clock::time_point now = system_clock::time_point(seconds(nowSeconds));
  const std::string_view value = in.rest();

  const auto wait = parseRetryAfter(value, now);
  if (!wait) return 0;
  if (*wait < milliseconds(0) || *wait > kMaxRetryAfter) std::abort();

  const std::string_view v = trimmed(value);
  if (std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    // delay-seconds: min(value, a day), whatever the clock.
    std::int64_t expected = 0;
    for (char c : v) expected = std::min<std::int64_t>(expected * 10 + (c - '0'), 86'400);
    if (*wait != seconds(expected)) std::abort();
    return 0;
  }
  const auto later = parseRetryAfter(value, now + seconds(1));
  if (!later) std::abort();
  if (*wait < kMaxRetryAfter && *later != std::max(*wait - seconds(1), milliseconds(0))) {
    std::abort();
  }
  return 0;
}
