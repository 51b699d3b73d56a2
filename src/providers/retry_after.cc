#include "providers/retry_after.h"

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>

namespace eg::providers {

namespace chrono = std::chrono;

namespace {

constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
constexpr std::array<std::string_view, 7> kDays = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
constexpr std::array<std::string_view, 7> kLongDays = {
    "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"};

bool isDigit(char c) { return c >= '0' && c <= '9'; }

// Reads an HTTP-date left to right; a read that fails consumes nothing, so an
// alternative can be tried in its place. The grammar is case-sensitive (RFC 9110 §5.6.7).
class DateReader {
 public:
  explicit DateReader(std::string_view text) : text_(text) {}

  bool literal(std::string_view expected) {
    if (text_.substr(0, expected.size()) != expected) return false;
    text_.remove_prefix(expected.size());
    return true;
  }
  // Exactly `count` digits.
  bool number(std::size_t count, int& out) {
    if (text_.size() < count) return false;
    int value = 0;
    for (std::size_t i = 0; i < count; ++i) {
      if (!isDigit(text_[i])) return false;
      value = value * 10 + (text_[i] - '0');
    }
    text_.remove_prefix(count);
    out = value;
    return true;
  }
  template <std::size_t N>
  bool oneOf(const std::array<std::string_view, N>& names, int* index = nullptr) {
    for (std::size_t i = 0; i < N; ++i) {
      if (literal(names[i])) {
        if (index != nullptr) *index = static_cast<int>(i);
        return true;
      }
    }
    return false;
  }
  bool atEnd() const { return text_.empty(); }

 private:
  std::string_view text_;
};

struct DateFields {
  int year = 0;
  int month = 0;  // 0 is January: the index in kMonths
  int day = 0, hour = 0, minute = 0, second = 0;
};

bool readTime(DateReader& r, DateFields& f) {
  return r.number(2, f.hour) && r.literal(":") && r.number(2, f.minute) && r.literal(":") &&
         r.number(2, f.second);
}

// "Sun, 06 Nov 1994 08:49:37 GMT"
std::optional<DateFields> readImfFixdate(std::string_view text) {
  DateReader r(text);
  DateFields f;
  if (r.oneOf(kDays) && r.literal(", ") && r.number(2, f.day) && r.literal(" ") &&
      r.oneOf(kMonths, &f.month) && r.literal(" ") && r.number(4, f.year) && r.literal(" ") &&
      readTime(r, f) && r.literal(" GMT") && r.atEnd()) {
    return f;
  }
  return std::nullopt;
}

// "Sunday, 06-Nov-94 08:49:37 GMT"; the caller resolves the two-digit year.
std::optional<DateFields> readRfc850(std::string_view text) {
  DateReader r(text);
  DateFields f;
  if (r.oneOf(kLongDays) && r.literal(", ") && r.number(2, f.day) && r.literal("-") &&
      r.oneOf(kMonths, &f.month) && r.literal("-") && r.number(2, f.year) && r.literal(" ") &&
      readTime(r, f) && r.literal(" GMT") && r.atEnd()) {
    return f;
  }
  return std::nullopt;
}

// "Sun Nov  6 08:49:37 1994" (a one-digit day is padded with a space)
std::optional<DateFields> readAsctime(std::string_view text) {
  DateReader r(text);
  DateFields f;
  if (r.oneOf(kDays) && r.literal(" ") && r.oneOf(kMonths, &f.month) && r.literal(" ") &&
      (r.number(2, f.day) || (r.literal(" ") && r.number(1, f.day))) && r.literal(" ") &&
      readTime(r, f) && r.literal(" ") && r.number(4, f.year) && r.atEnd()) {
    return f;
  }
  return std::nullopt;
}

// RFC 9110 §5.6.7: a two-digit year that would be more than 50 years in the future is
// the most recent past year with those digits.
int fullYear(int twoDigits, chrono::system_clock::time_point now) {
  const int thisYear =
      static_cast<int>(chrono::year_month_day(chrono::floor<chrono::days>(now)).year());
  int year = thisYear - thisYear % 100 + twoDigits;
  if (year > thisYear + 50) year -= 100;
  if (year <= thisYear - 50) year += 100;
  return year;
}

// In milliseconds: a time_point of system_clock (nanoseconds) overflows past 2262.
using Millis = chrono::sys_time<chrono::milliseconds>;

// nullopt for an impossible date (31 Feb, 24:00:00).
std::optional<Millis> timeOf(const DateFields& f) {
  const chrono::year_month_day date{chrono::year(f.year), chrono::month(f.month + 1),
                                    chrono::day(static_cast<unsigned>(f.day))};
  // 60: a leap second.
  if (!date.ok() || f.hour > 23 || f.minute > 59 || f.second > 60) return std::nullopt;
  return Millis(chrono::sys_days(date)) + chrono::hours(f.hour) + chrono::minutes(f.minute) +
         chrono::seconds(f.second);
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<chrono::milliseconds> parseDelaySeconds(std::string_view text) {
  constexpr std::int64_t kMaxSeconds =
      chrono::duration_cast<chrono::seconds>(kMaxRetryAfter).count();
  std::int64_t seconds = 0;
  for (const char c : text) {
    if (!isDigit(c)) return std::nullopt;
    // Saturate rather than overflow; the remaining characters must still be digits.
    if (seconds <= kMaxSeconds) seconds = seconds * 10 + (c - '0');
  }
  if (seconds > kMaxSeconds) return kMaxRetryAfter;
  return chrono::seconds(seconds);
}

}  // namespace

std::optional<chrono::milliseconds> parseRetryAfter(std::string_view value,
                                                    chrono::system_clock::time_point now) {
  value = trim(value);
  if (value.empty()) return std::nullopt;
  if (isDigit(value.front())) return parseDelaySeconds(value);

  std::optional<DateFields> date = readImfFixdate(value);
  if (!date) date = readAsctime(value);
  if (!date) {
    date = readRfc850(value);
    if (!date) return std::nullopt;
    date->year = fullYear(date->year, now);
  }
  const std::optional<Millis> at = timeOf(*date);
  if (!at) return std::nullopt;
  const chrono::milliseconds wait = *at - chrono::floor<chrono::milliseconds>(now);
  return std::clamp(wait, chrono::milliseconds(0), kMaxRetryAfter);
}

}  // namespace eg::providers
