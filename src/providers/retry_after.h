#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace eg::providers {

// The longest wait a Retry-After can ask for: longer values are cut to it. The
// dispatcher honours a Retry-After only up to maxBackoff, and a day is beyond any
// sensible maxBackoff, so the cap costs nothing; it keeps absurd values ("99999999999",
// a date in the year 9999) from overflowing the arithmetic done with them later.
inline constexpr std::chrono::milliseconds kMaxRetryAfter = std::chrono::hours(24);

// The wait an HTTP Retry-After value asks for (RFC 9110 §10.2.3), from `now`:
// delay-seconds ("120") or an HTTP-date, in the preferred IMF-fixdate form ("Sun, 06
// Nov 1994 08:49:37 GMT") or the two obsolete forms recipients must still accept
// (RFC 850 "Sunday, 06-Nov-94 08:49:37 GMT", asctime "Sun Nov  6 08:49:37 1994"). A
// date in the past is 0 ms; anything above kMaxRetryAfter is kMaxRetryAfter; an empty
// or malformed value is std::nullopt.
std::optional<std::chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                         std::chrono::system_clock::time_point now);

}  // namespace eg::providers
