#include "providers/retry_after.h"

#include <chrono>
#include <optional>
#include <string>

#include <gtest/gtest.h>

namespace eg::providers {
namespace {

using namespace std::chrono_literals;
using std::chrono::milliseconds;

// Wed, 21 Oct 2015 07:28:00 GMT
const std::chrono::system_clock::time_point kNow =
    std::chrono::sys_days(std::chrono::year(2015) / 10 / 21) + 7h + 28min;

std::optional<milliseconds> parse(std::string_view value,
                                  std::chrono::system_clock::time_point now = kNow) {
  return parseRetryAfter(value, now);
}

TEST(RetryAfterTest, DelaySeconds) {
  EXPECT_EQ(parse("120"), milliseconds(120'000));
  EXPECT_EQ(parse("0"), milliseconds(0));
  EXPECT_EQ(parse("007"), milliseconds(7'000));
  EXPECT_EQ(parse(" 5\t"), milliseconds(5'000));  // optional whitespace around a field value
}

TEST(RetryAfterTest, ImfFixdateRelativeToNow) {
  EXPECT_EQ(parse("Wed, 21 Oct 2015 07:28:30 GMT"), milliseconds(30'000));
  EXPECT_EQ(parse("Wed, 21 Oct 2015 07:28:30 GMT", kNow + 250ms), milliseconds(29'750));
  EXPECT_EQ(parse("Thu, 22 Oct 2015 07:27:59 GMT"), 24h - 1s);
  // The day name is not checked against the date.
  EXPECT_EQ(parse("Mon, 21 Oct 2015 07:29:00 GMT"), milliseconds(60'000));
}

TEST(RetryAfterTest, ObsoleteDateForms) {
  EXPECT_EQ(parse("Wednesday, 21-Oct-15 07:29:00 GMT"), milliseconds(60'000));
  EXPECT_EQ(parse("Wed Oct 21 07:28:10 2015"), milliseconds(10'000));
  EXPECT_EQ(parse("Thu Oct 22  7:28:00 2015"), std::nullopt);  // only the day is space-padded
  EXPECT_EQ(parse("Wed Oct  1 07:28:00 2015"), milliseconds(0));
  EXPECT_EQ(parse("Sun Nov  1 07:28:00 2015", kNow + 11 * 24h - 1s), milliseconds(1'000));
}

TEST(RetryAfterTest, TwoDigitYearsMoreThanFiftyYearsAheadAreInThePast) {
  // From 2015: "60" is 2060 (45 years ahead), "66" is 1966 (51 would be too far).
  EXPECT_EQ(parse("Thursday, 01-Jan-60 00:00:00 GMT"), kMaxRetryAfter);
  EXPECT_EQ(parse("Saturday, 01-Jan-66 00:00:00 GMT"), milliseconds(0));
  EXPECT_EQ(parse("Thursday, 01-Jan-70 00:00:00 GMT"), milliseconds(0));
}

TEST(RetryAfterTest, PastDatesAreNow) {
  EXPECT_EQ(parse("Wed, 21 Oct 2015 07:28:00 GMT"), milliseconds(0));
  EXPECT_EQ(parse("Tue, 20 Oct 2015 07:28:00 GMT"), milliseconds(0));
  EXPECT_EQ(parse("Thu, 01 Jan 1970 00:00:00 GMT"), milliseconds(0));
}

TEST(RetryAfterTest, LongWaitsAreCappedAtADay) {
  EXPECT_EQ(kMaxRetryAfter, 24h);
  EXPECT_EQ(parse("86400"), kMaxRetryAfter);
  EXPECT_EQ(parse("86401"), kMaxRetryAfter);
  EXPECT_EQ(parse("99999999999999999999999999999"), kMaxRetryAfter);
  EXPECT_EQ(parse("Thu, 22 Oct 2015 07:28:01 GMT"), kMaxRetryAfter);
  EXPECT_EQ(parse("Fri, 31 Dec 9999 23:59:59 GMT"), kMaxRetryAfter);
}

TEST(RetryAfterTest, MalformedValuesAreNone) {
  for (const char* value : {
           "",
           "  ",
           "-1",
           "+5",
           "1.5",
           "12a",
           "soon",
           "Wed, 21 Oct 2015 07:28:30 UTC",
           "wed, 21 Oct 2015 07:28:30 GMT",   // the grammar is case-sensitive
           "Wed, 21 oct 2015 07:28:30 GMT",
           "Wed, 21 Oct 15 07:28:30 GMT",     // a two-digit year in the IMF form
           "Wed, 1 Oct 2015 07:28:30 GMT",    // a one-digit day in the IMF form
           "Wed, 21 Oct 2015 07:28:30 GMT x",
           "Wed, 21 Oct 2015 07:28 GMT",
           "Wed, 32 Oct 2015 07:28:30 GMT",
           "Sun, 29 Feb 2015 07:28:30 GMT",   // not a leap year
           "Wed, 21 Oct 2015 24:00:00 GMT",
           "Wed, 21 Oct 2015 07:60:00 GMT",
           "Wed, 21 Oct 2015 07:28:61 GMT",
           "Wed, 00 Oct 2015 07:28:30 GMT",
           "Wed,21 Oct 2015 07:28:30 GMT",
           "Wed, 21-Oct-15 07:28:30 GMT",     // RFC 850 takes the long day name
           "Wednesday, 21-Oct-2015 07:28:30 GMT",
           "Wed Oct 21 07:28:30 2015 GMT",
       }) {
    EXPECT_EQ(parse(value), std::nullopt) << '"' << value << '"';
  }
  const auto leapDay = std::chrono::sys_days(std::chrono::year(2016) / 2 / 29) + 7h + 28min;
  EXPECT_EQ(parse("Mon, 29 Feb 2016 07:28:30 GMT", leapDay), milliseconds(30'000));
}

}  // namespace
}  // namespace eg::providers
