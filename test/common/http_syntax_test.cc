#include "common/http_syntax.h"

#include <gtest/gtest.h>

namespace eg {
namespace {

TEST(HttpSyntax, Tokens) {
  EXPECT_TRUE(isHttpToken("Content-Type"));
  EXPECT_TRUE(isHttpToken("x-functions-key"));
  EXPECT_TRUE(isHttpToken("!#$%&'*+-.^_`|~09azAZ"));
  EXPECT_FALSE(isHttpToken(""));
  EXPECT_FALSE(isHttpToken("Bad Name"));
  EXPECT_FALSE(isHttpToken("a:b"));
  EXPECT_FALSE(isHttpToken("caf\xc3\xa9"));
  EXPECT_FALSE(isHttpToken("a\r\nb"));
}

TEST(HttpSyntax, FieldValues) {
  EXPECT_TRUE(isHttpFieldValue(""));
  EXPECT_TRUE(isHttpFieldValue("Bearer abc, def"));
  EXPECT_FALSE(isHttpFieldValue("a\r\nX-Injected: 1"));
  EXPECT_FALSE(isHttpFieldValue("a\nb"));
  EXPECT_FALSE(isHttpFieldValue(std::string_view("a\0b", 3)));
}

TEST(HttpSyntax, FramingHeaders) {
  for (const char* name : {"Content-Length", "transfer-encoding", "CONNECTION", "Keep-Alive",
                           "Upgrade", "TE", "Trailer", "Proxy-Connection"}) {
    EXPECT_TRUE(isFramingHeader(name)) << name;
  }
  for (const char* name : {"Content-Type", "Host", "X-Connection", "Tee", ""}) {
    EXPECT_FALSE(isFramingHeader(name)) << name;
  }
}

}  // namespace
}  // namespace eg
