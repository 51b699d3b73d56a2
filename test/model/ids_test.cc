#include "model/ids.h"

#include <gtest/gtest.h>

namespace eg::model {
namespace {

TEST(SubscriptionId, AsyncMatchesTheSpecExample) {
  Subscription s;
  s.type = SubscriptionType::kAsync;
  s.eventType = "test.event";
  s.functionId = "test";
  s.path = "/";
  s.method = "POST";
  EXPECT_EQ(subscriptionId(s), "YXN5bmMsdGVzdC5ldmVudCx0ZXN0LCUyRixQT1NU");
}

TEST(SubscriptionId, SyncLeavesOutTheFunction) {
  Subscription s;
  s.type = SubscriptionType::kSync;
  s.eventType = "http.request";
  s.functionId = "ignored";
  s.path = "/users/:id";
  s.method = "GET";
  EXPECT_EQ(subscriptionId(s), base64UrlNoPad("sync,http.request,%2Fusers%2F:id,GET"));
}

TEST(Base64Url, PadsNothingAndUsesTheUrlAlphabet) {
  EXPECT_EQ(base64UrlNoPad(""), "");
  EXPECT_EQ(base64UrlNoPad("f"), "Zg");
  EXPECT_EQ(base64UrlNoPad("fo"), "Zm8");
  EXPECT_EQ(base64UrlNoPad("foo"), "Zm9v");
  EXPECT_EQ(base64UrlNoPad("\xfb\xff"), "-_8");
}

TEST(EscapePathSegment, MatchesGoPathEscape) {
  EXPECT_EQ(escapePathSegment("/test"), "%2Ftest");
  EXPECT_EQ(escapePathSegment("/a b/:c/*d"), "%2Fa%20b%2F:c%2F%2Ad");
  EXPECT_EQ(corsId("GET", "/test"), "GET%2Ftest");
}

}  // namespace
}  // namespace eg::model
