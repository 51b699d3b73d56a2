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

}  // namespace
}  // namespace eg
