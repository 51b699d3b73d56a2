#include "common/duration.h"

#include <array>
#include <cstdint>
#include <utility>

namespace eg {
namespace {

constexpr uint64_t kMaxNanos = uint64_t{1} << 63;  // Go's limit, checked as Go checks it

struct Unit {
  std::string_view name;
  uint64_t nanos;
};

// "µs" is U+00B5 (micro sign), "μs" U+03BC (Greek mu): Go accepts both.
constexpr std::array<Unit, 8> kUnits = {{{"ns", 1},
                                         {"us", 1'000},
                                         {"\xC2\xB5s", 1'000},
                                         {"\xCE\xBCs", 1'000},
                                         {"ms", 1'000'000},
                                         {"s", 1'000'000'000},
                                         {"m", 60'000'000'000},
                                         {"h", 3'600'000'000'000}}};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

Error invalidDuration(std::string_view text) {
  return Error::invalid("time: invalid duration " + quoted(text));
}

// [0-9]* at the front of `s`; false when the value does not fit (Go's leadingInt).
bool leadingInt(std::string_view& s, uint64_t& value) {
  value = 0;
  size_t i = 0;
  for (; i < s.size() && isDigit(s[i]); ++i) {
    if (value > (kMaxNanos - 1) / 10) return false;
    value = value * 10 + static_cast<uint64_t>(s[i] - '0');
    if (value > kMaxNanos) return false;
  }
  s.remove_prefix(i);
  return true;
}

// [0-9]* after a '.': the digits as an integer and the power of ten they are scaled by.
// Digits beyond what an int64 holds are consumed and ignored, as in Go's leadingFraction.
void leadingFraction(std::string_view& s, uint64_t& value, double& scale) {
  value = 0;
  scale = 1;
  bool overflow = false;
  size_t i = 0;
  for (; i < s.size() && isDigit(s[i]); ++i) {
    if (overflow) continue;
    if (value > (kMaxNanos - 1) / 10) {
      overflow = true;
      continue;
    }
    const uint64_t next = value * 10 + static_cast<uint64_t>(s[i] - '0');
    if (next > kMaxNanos) {
      overflow = true;
      continue;
    }
    value = next;
    scale *= 10;
  }
  s.remove_prefix(i);
}

// Parses into nanoseconds, following Go's time.ParseDuration step by step.
Result<uint64_t> parseNanos(std::string_view text) {
  std::string_view s = text;
  if (!s.empty() && (s.front() == '-' || s.front() == '+')) {
    return Error::invalid("time: invalid duration " + quoted(text) + ": a sign is not allowed");
  }
  if (s == "0") return uint64_t{0};
  if (s.empty()) return invalidDuration(text);

  uint64_t total = 0;
  while (!s.empty()) {
    if (!(s.front() == '.' || isDigit(s.front()))) return invalidDuration(text);
    const size_t before = s.size();
    uint64_t whole = 0;
    if (!leadingInt(s, whole)) return invalidDuration(text);
    const bool pre = s.size() != before;
    uint64_t fraction = 0;
    double scale = 1;
    bool post = false;
    if (!s.empty() && s.front() == '.') {
      s.remove_prefix(1);
      const size_t atFraction = s.size();
      leadingFraction(s, fraction, scale);
      post = s.size() != atFraction;
    }
    if (!pre && !post) return invalidDuration(text);  // "." alone

    size_t unitLength = 0;
    while (unitLength < s.size() && s[unitLength] != '.' && !isDigit(s[unitLength])) ++unitLength;
    if (unitLength == 0) return Error::invalid("time: missing unit in duration " + quoted(text));
    const std::string_view unitName = s.substr(0, unitLength);
    s.remove_prefix(unitLength);
    const Unit* unit = nullptr;
    for (const auto& u : kUnits) {
      if (u.name == unitName) unit = &u;
    }
    if (!unit) {
      return Error::invalid("time: unknown unit " + quoted(unitName) + " in duration " +
                            quoted(text));
    }

    if (whole > kMaxNanos / unit->nanos) return invalidDuration(text);
    uint64_t value = whole * unit->nanos;
    if (fraction > 0) {
      // A double is exact enough here: fraction * unit / scale is at most an hour in ns.
      value += static_cast<uint64_t>(static_cast<double>(fraction) *
                                     (static_cast<double>(unit->nanos) / scale));
      if (value > kMaxNanos) return invalidDuration(text);
    }
    total += value;
    if (total > kMaxNanos) return invalidDuration(text);
  }
  if (total > kMaxNanos - 1) return invalidDuration(text);
  return total;
}

// Whole seconds plus milliseconds as Go prints them: "3", "3.5", "3.004".
std::string secondsText(int64_t seconds, int64_t millis) {
  std::string out = std::to_string(seconds);
  if (millis == 0) return out;
  std::string fraction = std::to_string(millis);
  fraction.insert(0, 3 - fraction.size(), '0');
  while (fraction.back() == '0') fraction.pop_back();
  return out + "." + fraction;
}

}  // namespace

Result<std::chrono::milliseconds> parseGoDuration(std::string_view text) {
  auto nanos = parseNanos(text);
  if (!nanos) return std::move(nanos).error();
  constexpr uint64_t kNanosPerMilli = 1'000'000;
  const uint64_t millis = *nanos / kNanosPerMilli + (*nanos % kNanosPerMilli != 0 ? 1 : 0);
  return std::chrono::milliseconds(static_cast<int64_t>(millis));
}

std::string formatGoDuration(std::chrono::milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string sign;
  if (ms < 0) {
    sign = "-";
    ms = -ms;
  }
  if (ms < 1000) return sign + std::to_string(ms) + "ms";
  const int64_t hours = ms / 3'600'000;
  const int64_t minutes = ms / 60'000 % 60;
  const std::string seconds = secondsText(ms / 1000 % 60, ms % 1000) + "s";
  if (hours > 0) return sign + std::to_string(hours) + "h" + std::to_string(minutes) + "m" + seconds;
  if (minutes > 0) return sign + std::to_string(minutes) + "m" + seconds;
  return sign + seconds;
}

}  // namespace eg
