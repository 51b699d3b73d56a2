#include "model/codec.h"

#include <gtest/gtest.h>

#include "model/validation.h"

namespace eg::model {
namespace {

namespace json = boost::json;

Subscription parseSubscription(std::string_view body) {
  auto s = subscriptionFromRequest("default", json::parse(body));
  EXPECT_TRUE(s) << (s ? "" : s.error().message);
  return s ? *s : Subscription{};
}

std::string output(const Subscription& s) { return json::serialize(toJson(s)); }

Subscription roundTrip(const Subscription& s) {
  auto decoded = decodeStoredSubscription(encodeStored(s));
  EXPECT_TRUE(decoded) << (decoded ? "" : decoded.error().message);
  return decoded ? *decoded : Subscription{};
}

TEST(CodecDeliveryPolicy, OutputCarriesExactlyTheFieldsSet) {
  const auto s = parseSubscription(R"({"type":"async","eventType":"e","functionId":"f",
      "deliveryPolicy":{"maxEventAge":"1.5h","deadLetterFunctionId":"dlq","retries":3,
      "backoff":"constant","backoffDelay":"1500us","maxBackoff":"1m30s"}})");
  EXPECT_EQ(output(s),
            R"({"space":"default","subscriptionId":")" + s.subscriptionId +
                R"(","type":"async","eventType":"e","functionId":"f","method":"POST","path":"/",)"
                R"("deliveryPolicy":{"retries":3,"backoff":"constant","backoffDelay":"1500us",)"
                R"("maxBackoff":"1m30s","maxEventAge":"1.5h","deadLetterFunctionId":"dlq"}})");
  const auto some = parseSubscription(
      R"({"type":"async","eventType":"e","functionId":"f","metadata":{"k":"v"},"deliveryPolicy":{"retries":0}})");
  EXPECT_EQ(output(some),
            R"({"space":"default","subscriptionId":")" + some.subscriptionId +
                R"(","type":"async","eventType":"e","functionId":"f","method":"POST","path":"/",)"
                R"("metadata":{"k":"v"},"deliveryPolicy":{"retries":0}})");
}

TEST(CodecDeliveryPolicy, EmptyPolicyIsAnEmptyObjectAndNoPolicyNoKey) {
  const auto empty = parseSubscription(R"({"type":"async","eventType":"e","functionId":"f","deliveryPolicy":{}})");
  EXPECT_EQ(output(empty),
            R"({"space":"default","subscriptionId":")" + empty.subscriptionId +
                R"(","type":"async","eventType":"e","functionId":"f","method":"POST","path":"/","deliveryPolicy":{}})");
  const auto none = parseSubscription(R"({"type":"async","eventType":"e","functionId":"f"})");
  EXPECT_EQ(output(none),
            R"({"space":"default","subscriptionId":")" + none.subscriptionId +
                R"(","type":"async","eventType":"e","functionId":"f","method":"POST","path":"/"})");
  EXPECT_EQ(encodeStored(none).find("deliveryPolicy"), std::string::npos);
}

TEST(CodecDeliveryPolicy, Gen1CustomEventKeepsItsShape) {
  const auto s = parseSubscription(
      R"({"event":"user.created","functionId":"f","path":"/team","deliveryPolicy":{"backoff":"linear"}})");
  EXPECT_EQ(output(s),
            R"({"space":"default","subscriptionId":")" + s.subscriptionId +
                R"(","event":"user.created","functionId":"f","path":"/team","deliveryPolicy":{"backoff":"linear"}})");
}

TEST(CodecDeliveryPolicy, StoredRoundTrip) {
  const auto s = parseSubscription(R"({"type":"async","eventType":"e","functionId":"f",
      "deliveryPolicy":{"retries":7,"backoff":"exponential","backoffDelay":"250ms","maxBackoff":"2m",
      "maxEventAge":"48h","deadLetterFunctionId":"dlq"}})");
  const auto back = roundTrip(s);
  ASSERT_TRUE(back.deliveryPolicy);
  const auto& p = *back.deliveryPolicy;
  EXPECT_EQ(p.retries, 7);
  EXPECT_EQ(p.backoff, Backoff::kExponential);
  EXPECT_EQ(p.backoffDelay->text, "250ms");
  EXPECT_EQ(p.backoffDelay->value, std::chrono::milliseconds(250));
  EXPECT_EQ(p.maxBackoff->value, std::chrono::milliseconds(120'000));
  EXPECT_EQ(p.maxEventAge->text, "48h");
  EXPECT_EQ(p.maxEventAge->value, std::chrono::milliseconds(48 * 3'600'000));
  EXPECT_EQ(p.deadLetterFunctionId, "dlq");
  EXPECT_EQ(output(back), output(s));

  const auto empty = roundTrip(
      parseSubscription(R"({"event":"e","functionId":"f","deliveryPolicy":{}})"));
  ASSERT_TRUE(empty.deliveryPolicy);
  EXPECT_FALSE(empty.deliveryPolicy->retries);
  EXPECT_EQ(empty.generation, Generation::k1);
  EXPECT_FALSE(roundTrip(parseSubscription(R"({"event":"e","functionId":"f"})")).deliveryPolicy);
}

TEST(CodecDeliveryPolicy, MalformedStoredPolicyIsAnError) {
  const std::string base =
      R"({"space":"s","subscriptionId":"x","generation":2,"type":"async","eventType":"e",)"
      R"("functionId":"f","method":"POST","path":"/","deliveryPolicy":)";
  for (const char* bad : {R"([])", R"({"retries":"3"})", R"({"retries":1001})",
                          R"({"backoff":"fast"})", R"({"backoffDelay":"10"})",
                          R"({"maxBackoff":5})", R"({"deadLetterFunctionId":1})"}) {
    auto r = decodeStoredSubscription(base + bad + "}");
    ASSERT_FALSE(r) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
    EXPECT_NE(r.error().message.find("deliveryPolicy"), std::string::npos) << r.error().message;
  }
  EXPECT_TRUE(decodeStoredSubscription(base + "{}}"));
}

TEST(CodecDeliveryPolicy, BackoffNames) {
  for (auto b : {Backoff::kExponential, Backoff::kLinear, Backoff::kConstant}) {
    EXPECT_EQ(parseBackoff(backoffName(b)), b);
  }
  EXPECT_FALSE(parseBackoff("Exponential"));
  EXPECT_FALSE(parseBackoff(""));
}

TEST(CodecFilters, OutputAndStoreCarryThemOnlyWhenSet) {
  const auto s = parseSubscription(
      R"({"type":"async","eventType":"e","functionId":"f","filters":[{"exact":{"data.n":"1"}}]})");
  EXPECT_EQ(output(s),
            R"({"space":"default","subscriptionId":")" + s.subscriptionId +
                R"(","type":"async","eventType":"e","functionId":"f","method":"POST","path":"/",)"
                R"("filters":[{"exact":{"data.n":"1"}}]})");
  const auto back = roundTrip(s);
  ASSERT_TRUE(back.filters);
  EXPECT_EQ(output(back), output(s));
  const auto gen1 =
      parseSubscription(R"({"event":"user.created","functionId":"f","filters":[]})");
  EXPECT_EQ(output(gen1), R"({"space":"default","subscriptionId":")" + gen1.subscriptionId +
                              R"(","event":"user.created","functionId":"f","path":"/","filters":[]})");
  const auto none = parseSubscription(R"({"type":"async","eventType":"e","functionId":"f"})");
  EXPECT_EQ(output(none).find("filters"), std::string::npos);
  EXPECT_EQ(encodeStored(none).find("filters"), std::string::npos);
  EXPECT_FALSE(roundTrip(none).filters);
}

TEST(CodecFunctionLimits, OutputAndStoreCarryThemOnlyWhenSet) {
  auto f = functionFromRequest("default", json::parse(
      R"({"functionId":"f","type":"http","provider":{"url":"http://x/"},"limits":{"concurrency":2,"rate":0.5}})"));
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(json::serialize(toJson(*f)),
            R"({"space":"default","functionId":"f","type":"http","provider":{"url":"http://x/"},)"
            R"("limits":{"rate":5E-1,"concurrency":2}})");
  auto back = decodeStoredFunction(encodeStored(*f));
  ASSERT_TRUE(back) << back.error().message;
  ASSERT_TRUE(back->limits);
  EXPECT_EQ(back->limits->rate, 0.5);
  EXPECT_FALSE(back->limits->burst);
  EXPECT_EQ(back->limits->concurrency, 2);
  auto whole = functionFromRequest("default", json::parse(
      R"({"functionId":"f","type":"http","provider":{"url":"http://x/"},"limits":{"rate":5,"burst":7}})"));
  ASSERT_TRUE(whole);
  EXPECT_EQ(json::serialize(toJson(*whole).at("limits")), R"({"rate":5,"burst":7})");
  auto plain = functionFromRequest("default", json::parse(
      R"({"functionId":"f","type":"http","provider":{"url":"http://x/"}})"));
  ASSERT_TRUE(plain);
  EXPECT_EQ(json::serialize(toJson(*plain)).find("limits"), std::string::npos);
  EXPECT_FALSE(decodeStoredFunction(encodeStored(*plain))->limits);
}

EventType parseEventType(std::string_view body) {
  auto e = eventTypeFromRequest("default", json::parse(body));
  EXPECT_TRUE(e) << (e ? "" : e.error().message);
  return e ? *e : EventType{};
}

TEST(CodecAuthorizerCache, OutputCarriesItOnlyWhenSetWithItsText) {
  const auto e = parseEventType(R"({"name":"e","authorizerId":"auth",
      "authorizerCache":{"key":["query:t","header:X-Key"],"ttl":"1500us"}})");
  EXPECT_EQ(json::serialize(toJson(e)),
            R"({"space":"default","name":"e","authorizerId":"auth",)"
            R"("authorizerCache":{"ttl":"1500us","key":["query:t","header:X-Key"]}})");
  const auto noKey = parseEventType(R"({"name":"e","authorizerId":"auth","authorizerCache":{"ttl":"1s"}})");
  EXPECT_EQ(json::serialize(toJson(noKey)),
            R"({"space":"default","name":"e","authorizerId":"auth","authorizerCache":{"ttl":"1s"}})");
  const auto none = parseEventType(R"({"name":"e","authorizerId":"auth"})");
  EXPECT_FALSE(toJson(none).contains("authorizerCache"));
}

TEST(CodecAuthorizerCache, StoredRoundTrip) {
  for (std::string_view body : {
           R"({"name":"e","authorizerId":"auth","authorizerCache":{"ttl":"1m30s","key":["header:A","query:b"]}})",
           R"({"name":"e","authorizerId":"auth","authorizerCache":{"ttl":"300ms"}})",
           R"({"name":"e","authorizerId":"auth"})"}) {
    const auto e = parseEventType(body);
    const auto stored = encodeStored(e);
    auto decoded = decodeStoredEventType(stored);
    ASSERT_TRUE(decoded) << decoded.error().message;
    EXPECT_EQ(encodeStored(*decoded), stored);
    EXPECT_EQ(decoded->authorizerCache.has_value(), e.authorizerCache.has_value());
    if (e.authorizerCache) {
      EXPECT_EQ(decoded->authorizerCache->ttl.value, e.authorizerCache->ttl.value);
      EXPECT_EQ(decoded->authorizerCache->key, e.authorizerCache->key);
    }
  }
}

TEST(CodecAuthorizerCache, MalformedStoredCacheIsAnError) {
  for (std::string_view stored : {
           R"({"space":"s","name":"e","authorizerId":"a","authorizerCache":"1s"})",
           R"({"space":"s","name":"e","authorizerId":"a","authorizerCache":{}})",
           R"({"space":"s","name":"e","authorizerId":"a","authorizerCache":{"ttl":"soon"}})",
           R"({"space":"s","name":"e","authorizerId":"a","authorizerCache":{"ttl":"1s","key":[1]}})"}) {
    EXPECT_FALSE(decodeStoredEventType(stored)) << stored;
  }
}

}  // namespace
}  // namespace eg::model
