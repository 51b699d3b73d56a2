#include "common/json.h"

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <utility>

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
// escaping sits (in a short string, a full block of sixteen, or the overlapping tail);
// but a byte that is not UTF-8 comes out as U+FFFD.
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
        std::string expected = s;
        if (special == "\x80" || special == "\xff") expected.replace(at, 1, "\xef\xbf\xbd");
        ASSERT_EQ(written(s), json::serialize(json::string(expected)))
            << "length " << length << " at " << at << " byte " << int(special[0]);
      }
    }
  }
}

// Found by fuzz/request_to_event_fuzz.cc: a header value with a byte from 0x80 up (or a
// query with %FF) made an http.request event whose text no JSON reader accepts, since
// boost::json writes such bytes as they are. Every byte that is not part of valid
// UTF-8 is written as U+FFFD instead, in strings and in values alike.
TEST(JsonWriter, WritesBytesThatAreNotUtf8AsReplacementCharacters) {
  const std::string r = "\xef\xbf\xbd";
  const std::pair<std::string, std::string> cases[] = {
      {"caf\xc3\xa9", "caf\xc3\xa9"},                    // valid: as it is
      {"\xf0\x9f\x98\x80!", "\xf0\x9f\x98\x80!"},          // four bytes, valid
      {"a\xff" "b", "a" + r + "b"},                      // never valid
      {"\xc0\x80", r + r},                               // overlong NUL
      {"\xed\xa0\x80", r + r + r},                       // a surrogate
      {"\xf4\x90\x80\x80", r + r + r + r},               // above U+10FFFF
      {"\xe2\x82", r + r},                               // cut short
      {"\xe2\x82\"", r + r + "\""},                      // cut short by the end of a string
      {"12345678\x80", "12345678" + r},                  // after a run of ASCII
  };
  for (const auto& [in, out] : cases) {
    EXPECT_EQ(isValidUtf8(in), in == out) << in;
    EXPECT_EQ(written(in), json::serialize(json::string(out))) << in;
    std::string value;
    JsonWriter(value).value(json::value{"x", in, json::object{{"k", in}}});
    EXPECT_EQ(value, json::serialize(json::value{"x", out, json::object{{"k", out}}})) << in;
    std::string object;
    JsonWriter(object).object(json::object{{in, 1}});
    EXPECT_EQ(object, json::serialize(json::object{{out, 1}})) << in;
    EXPECT_TRUE(parseJson(value)) << value;
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

// Found by fuzz/config_body_fuzz.cc: Boost 1.81 reads some doubles one unit in the last
// place off ("6e230" as 6.000000000000001e230) and writes what it read, so a function's
// provider field did not read back as registered, and changed at every store and read.
TEST(ParseValue, ReadsDoublesCorrectlyRounded) {
  for (const char* text : {"6e230", "6.000000000000001e230", "0.1", "-2.5e-300", "1e23",
                           "5e-324", "1.7976931348623157e308", "123456789012345678901234567890"}) {
    boost::system::error_code ec;
    const json::value v = parseValue(text, ec);
    ASSERT_FALSE(ec) << text;
    ASSERT_TRUE(v.is_double()) << text;
    EXPECT_EQ(v.get_double(), std::strtod(text, nullptr)) << text;
    const std::string written = json::serialize(v);
    EXPECT_EQ(parseValue(written, ec), v) << text << " written as " << written;
  }
  boost::system::error_code ec;
  EXPECT_EQ(json::serialize(parseValue(R"({"x":[6e230]})", ec)), R"({"x":[6E230]})");
  // Integers, and what the parser refuses, are as before.
  EXPECT_EQ(parseValue("[1,-2,18446744073709551615]", ec),
            (json::array{1, -2, std::numeric_limits<std::uint64_t>::max()}));
  for (const char* bad : {"", "1.", "[1e]", "1 2", "-", "01"}) {
    parseValue(bad, ec);
    EXPECT_TRUE(ec) << bad;
  }
}

}  // namespace
}  // namespace eg
