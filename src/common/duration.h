#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "common/result.h"

namespace eg {

// Go's time.ParseDuration syntax, the one users of the original gateway know: a sequence
// of decimal numbers, each with an optional fraction and a unit, e.g. "300ms", "1.5h",
// "2h45m", "1m30s", ".5s". Units: ns, us (also µs, μs), ms, s, m, h. "0" alone is zero.
// Unlike Go, a sign is refused: every duration we take (timeouts, delays, ages) is a
// length of time, and "-1s" is a mistake rather than a meaning.
//
// The value is in whole milliseconds, rounded up: "1500us" is 2ms and "1ns" is 1ms, so
// that only a zero duration is ever zero. Durations beyond Go's range (about 2562047h)
// are refused, as Go refuses them. Errors are kInvalid with Go's wording, e.g.
//   time: missing unit in duration "10"
Result<std::chrono::milliseconds> parseGoDuration(std::string_view text);

// Go's Duration.String() of a whole number of milliseconds: "0s", "200ms", "1.5s",
// "1m0s", "24h0m0s", "1h2m3.004s". What Go programs print as a duration's default, and
// parseGoDuration reads it back.
std::string formatGoDuration(std::chrono::milliseconds d);

}  // namespace eg
