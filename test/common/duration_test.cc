#include "common/duration.h"

#include <gtest/gtest.h>

namespace eg {
namespace {

using std::chrono::milliseconds;

int64_t ms(std::string_view text) {
  auto r = parseGoDuration(text);
  EXPECT_TRUE(r) << text << ": " << (r ? "" : r.error().message);
  return r ? r->count() : -1;
}

std::string errorOf(std::string_view text) {
  auto r = parseGoDuration(text);
  if (r) return "<ok " + std::to_string(r->count()) + "ms>";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

TEST(Duration, ParsesGoSyntax) {
  EXPECT_EQ(ms("0"), 0);
  EXPECT_EQ(ms("0s"), 0);
  EXPECT_EQ(ms("300ms"), 300);
  EXPECT_EQ(ms("1.5h"), 5'400'000);
  EXPECT_EQ(ms("2h45m"), 9'900'000);
  EXPECT_EQ(ms("1m30s"), 90'000);
  EXPECT_EQ(ms("1m30.5s"), 90'500);
  EXPECT_EQ(ms(".5s"), 500);
  EXPECT_EQ(ms("1.s"), 1000);
  EXPECT_EQ(ms("24h"), 86'400'000);
  EXPECT_EQ(ms("1h1h"), 7'200'000);  // Go adds repeated units up
  EXPECT_EQ(ms("10s200ms"), 10'200);
  EXPECT_EQ(ms("007s"), 7000);
  EXPECT_EQ(ms("2562047h"), int64_t{2562047} * 3'600'000);
}

TEST(Duration, SubMillisecondRoundsUp) {
  EXPECT_EQ(ms("1ns"), 1);
  EXPECT_EQ(ms("999us"), 1);
  EXPECT_EQ(ms("1000us"), 1);
  EXPECT_EQ(ms("1001us"), 2);
  EXPECT_EQ(ms("1.5ms"), 2);
  EXPECT_EQ(ms("500\xC2\xB5s"), 1);  // U+00B5 micro sign
  EXPECT_EQ(ms("2000\xCE\xBCs"), 2);  // U+03BC Greek mu
  EXPECT_EQ(ms("0ns"), 0);
  EXPECT_EQ(ms("0.0001s"), 1);
}

TEST(Duration, Errors) {
  EXPECT_EQ(errorOf(""), R"(time: invalid duration "")");
  EXPECT_EQ(errorOf("10"), R"(time: missing unit in duration "10")");
  EXPECT_EQ(errorOf("1s5"), R"(time: missing unit in duration "1s5")");
  EXPECT_EQ(errorOf("5x"), R"(time: unknown unit "x" in duration "5x")");
  EXPECT_EQ(errorOf("5S"), R"(time: unknown unit "S" in duration "5S")");
  EXPECT_EQ(errorOf("5 s"), R"(time: unknown unit " s" in duration "5 s")");
  EXPECT_EQ(errorOf("s"), R"(time: invalid duration "s")");
  EXPECT_EQ(errorOf(".s"), R"(time: invalid duration ".s")");
  EXPECT_EQ(errorOf("."), R"(time: invalid duration ".")");
  EXPECT_EQ(errorOf(" 1s"), R"(time: invalid duration " 1s")");
  EXPECT_EQ(errorOf("-1s"), R"(time: invalid duration "-1s": a sign is not allowed)");
  EXPECT_EQ(errorOf("+1s"), R"(time: invalid duration "+1s": a sign is not allowed)");
  EXPECT_EQ(errorOf("-0"), R"(time: invalid duration "-0": a sign is not allowed)");
  EXPECT_EQ(errorOf("2562048h"), R"(time: invalid duration "2562048h")");
  EXPECT_EQ(errorOf("9223372036854775808ns"), R"(time: invalid duration "9223372036854775808ns")");
  EXPECT_EQ(errorOf("99999999999999999999s"), R"(time: invalid duration "99999999999999999999s")");
}

TEST(Duration, FormatsAsGoPrintsIt) {
  EXPECT_EQ(formatGoDuration(milliseconds(0)), "0s");
  EXPECT_EQ(formatGoDuration(milliseconds(1)), "1ms");
  EXPECT_EQ(formatGoDuration(milliseconds(200)), "200ms");
  EXPECT_EQ(formatGoDuration(milliseconds(999)), "999ms");
  EXPECT_EQ(formatGoDuration(milliseconds(1000)), "1s");
  EXPECT_EQ(formatGoDuration(milliseconds(1500)), "1.5s");
  EXPECT_EQ(formatGoDuration(milliseconds(30'000)), "30s");
  EXPECT_EQ(formatGoDuration(milliseconds(60'000)), "1m0s");
  EXPECT_EQ(formatGoDuration(milliseconds(90'050)), "1m30.05s");
  EXPECT_EQ(formatGoDuration(milliseconds(3'723'004)), "1h2m3.004s");
  EXPECT_EQ(formatGoDuration(milliseconds(86'400'000)), "24h0m0s");
  EXPECT_EQ(formatGoDuration(milliseconds(-1500)), "-1.5s");
}

TEST(Duration, FormatReadsBack) {
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{1001}, int64_t{61'001},
                    int64_t{3'600'000}, int64_t{2'592'000'000}, int64_t{123'456'789}}) {
    EXPECT_EQ(ms(formatGoDuration(milliseconds(v))), v) << formatGoDuration(milliseconds(v));
  }
}

}  // namespace
}  // namespace eg
