#include "common/json.h"

#include <string>

#include <gtest/gtest.h>

namespace eg {
namespace {

std::string written(std::string_view s) {
  std::string out;
  JsonWriter(out).string(s);
  return out;
}

// JsonWriter copies plain strings itself and hands the rest to boost::json: both ways
// must give boost::json's text, whatever the length and wherever the byte that needs
// escaping sits (in a short string, a full block of sixteen, or the overlapping tail).
TEST(JsonWriter, StringsComeOutAsBoostJsonWritesThem) {
  const std::string specials[] = {"\"", "\\", std::string(1, '\0'), "\n", "\x1f", "\x7f",
                                  "\xc3\xa9", "\x80", "\xff", " ", "~", "/"};
  for (std::size_t length = 0; length <= 40; ++length) {
    const std::string base(length, 'x');
    ASSERT_EQ(written(base), json::serialize(json::string(base))) << length;
    for (const std::string& special : specials) {
      for (std::size_t at = 0; at < length; ++at) {
        std::string s = base;
        s.replace(at, 1, special);
        ASSERT_EQ(written(s), json::serialize(json::string(s)))
            << "length " << length << " at " << at << " byte " << int(special[0]);
      }
    }
  }
}

TEST(PlainPrefix, EndsAtTheFirstByteToEscape) {
  for (std::size_t length = 0; length <= 40; ++length) {
    const std::string base(length, 'x');
    ASSERT_EQ(plainPrefix(base), length);
    for (const char special : {'"', '\\', '\0', '\n', '\x1f', '\x7f', '\x80', '\xff'}) {
      for (std::size_t at = 0; at < length; ++at) {
        std::string s = base;
        s[at] = special;
        s += '"';  // a later one does not matter
        ASSERT_EQ(plainPrefix(s), at) << "length " << length << " byte " << int(special);
      }
    }
  }
  EXPECT_EQ(plainPrefix(" !#~}"), 5u);
}

TEST(JsonWriter, AppendsKeysValuesAndRawText) {
  std::string out = "[";
  JsonWriter w(out);
  w.raw('{').key("a\"b").value(json::value{1, 2}).raw(',').key("o");
  w.object(json::object{{"k", nullptr}}).raw("}]");
  EXPECT_EQ(out, R"([{"a\"b":[1,2],"o":{"k":null}}])");
}

// Found by fuzz/json_roundtrip_fuzz.cc: Boost reads 1e400 as infinity and writes it back
// as `Infinity`, which is not JSON: an event with it in its data reached functions as
// text no JSON reader accepts. Such numbers are refused where the text is read.
TEST(ParseValue, RefusesNumbersBeyondADoublesRange) {
  for (const char* text : {"1e400", "[-1e400]", "{\"a\":{\"b\":[1,2E999]}}"}) {
    boost::system::error_code ec;
    parseValue(text, ec);
    EXPECT_EQ(ec, json::error::exponent_overflow) << text;
    EXPECT_FALSE(parseJson(text)) << text;
  }
  boost::system::error_code ec;
  const json::value v = parseValue("[1.7976931348623157e308,-0.0,1e-400]", ec);
  ASSERT_FALSE(ec);
  std::string written;
  JsonWriter(written).value(v);
  EXPECT_TRUE(parseJson(written)) << written;
}

}  // namespace
}  // namespace eg
