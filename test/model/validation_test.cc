#include "model/validation.h"

#include <gtest/gtest.h>

#include "model/codec.h"
#include "model/ids.h"

namespace eg::model {
namespace {

namespace json = boost::json;

json::value parse(std::string_view s) { return json::parse(s); }

template <class T>
std::string errorOf(const Result<T>& r) {
  if (r) return "<ok>";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

const std::string kF(kFunctionInvalid);
const std::string kE(kEventTypeInvalid);
const std::string kS(kSubscriptionInvalid);
const std::string kC(kCorsInvalid);

// ---- names, paths, methods ----

TEST(IsValidName, LettersDigitsDotDashUnderscore) {
  EXPECT_TRUE(isValidName("a-Z_0.9"));
  EXPECT_FALSE(isValidName(""));
  EXPECT_FALSE(isValidName("a b"));
  EXPECT_FALSE(isValidName("a/b"));
  EXPECT_FALSE(isValidName("a%2F"));
  EXPECT_FALSE(isValidName("é"));
}

TEST(NormalizePath, AddsTheLeadingSlash) {
  EXPECT_EQ(*normalizePath(""), "/");
  EXPECT_EQ(*normalizePath("/"), "/");
  EXPECT_EQ(*normalizePath("myteam"), "/myteam");
  EXPECT_EQ(*normalizePath("/a/:id/*rest"), "/a/:id/*rest");
  EXPECT_EQ(*normalizePath("/a/"), "/a/");  // a trailing slash is significant
}

TEST(NormalizePath, ChecksSegments) {
  EXPECT_EQ(errorOf(normalizePath("/a/:")),
            R"(Field "path" has an invalid parameter ":": a parameter name is letters, digits, ".", "-" and "_".)");
  EXPECT_EQ(errorOf(normalizePath("/a/*")),
            R"(Field "path" has an invalid parameter "*": a parameter name is letters, digits, ".", "-" and "_".)");
  EXPECT_EQ(errorOf(normalizePath("/*all/b")),
            R"(Field "path" may hold a "*" wildcard only as its last segment.)");
  EXPECT_EQ(errorOf(normalizePath("/:id/x/:id")), R"(Field "path" uses the parameter name "id" twice.)");
  EXPECT_EQ(errorOf(normalizePath("/a?b=1")),
            R"(Field "path" must not contain '?', '#' or control characters.)");
  EXPECT_EQ(errorOf(normalizePath("/a#b")),
            R"(Field "path" must not contain '?', '#' or control characters.)");
  EXPECT_EQ(errorOf(normalizePath("/a\nb", "cors.path")),
            R"(Field "cors.path" must not contain '?', '#' or control characters.)");
}

TEST(NormalizeMethod, UpperCasesAndChecks) {
  EXPECT_EQ(*normalizeMethod("get"), "GET");
  for (auto m : {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}) {
    EXPECT_EQ(*normalizeMethod(m), m);
  }
  EXPECT_EQ(errorOf(normalizeMethod("CONNECT")),
            R"(Field "method" must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS.)");
}

// ---- functions ----

TEST(FunctionFromRequest, DecodesAndIgnoresTheBodySpace) {
  auto f = functionFromRequest("s1", parse(R"({"space":"other","functionId":"f","type":"http",
      "provider":{"url":"http://x"},"metadata":{"a":"b"},"extra":1})"));
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->space, "s1");
  EXPECT_EQ(f->functionId, "f");
  EXPECT_EQ(f->type, "http");
  EXPECT_EQ(json::serialize(f->provider), R"({"url":"http://x"})");
  EXPECT_EQ(f->metadata->at("a"), "b");
}

TEST(FunctionFromRequest, Errors) {
  EXPECT_EQ(errorOf(functionFromRequest("s", parse("[]"))), kF + "request body must be a JSON object.");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"type":"http","provider":{}})"))),
            kF + R"(Missing required field "functionId".)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":null,"type":"http","provider":{}})"))),
            kF + R"(Missing required field "functionId".)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":7,"type":"http","provider":{}})"))),
            kF + R"(Field "functionId" must be a string.)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":"a b","type":"http","provider":{}})"))),
            kF + R"(Field "functionId" may only contain letters, digits, ".", "-" and "_".)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":"f","provider":{}})"))),
            kF + R"(Missing required field "type".)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":"f","type":true,"provider":{}})"))),
            kF + R"(Field "type" must be a string.)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":"f","type":"http"})"))),
            kF + R"(Missing required field "provider".)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":"f","type":"http","provider":"x"})"))),
            kF + R"(Field "provider" must be an object.)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":"f","type":"http","provider":{},"metadata":{"a":1}})"))),
            kF + R"(Field "metadata" must be an object of strings.)");
  EXPECT_EQ(errorOf(functionFromRequest("s", parse(R"({"functionId":"f","type":"http","provider":{},"metadata":[]})"))),
            kF + R"(Field "metadata" must be an object of strings.)");
}

TEST(FunctionFromRequest, TypeInsideTheProviderIsAccepted) {
  auto f = functionFromRequest("s", parse(R"({"functionId":"f","provider":{"type":"awslambda","arn":"a","region":"r"}})"));
  ASSERT_TRUE(f) << f.error().message;
  EXPECT_EQ(f->type, "awslambda");
}

TEST(FunctionUpdateFromRequest, TheIdComesFromTheUrl) {
  auto f = functionUpdateFromRequest("s", "url-id", parse(R"({"functionId":"body-id","type":"http","provider":{}})"));
  ASSERT_TRUE(f);
  EXPECT_EQ(f->functionId, "url-id");
  auto noId = functionUpdateFromRequest("s", "url-id", parse(R"({"type":"http","provider":{}})"));
  EXPECT_TRUE(noId);
}

// ---- event types ----

TEST(EventTypeFromRequest, DecodesAndChecks) {
  auto e = eventTypeFromRequest("s", parse(R"({"name":"user.created","authorizerId":"auth","metadata":{"x":"y"}})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(json::serialize(toJson(*e)),
            R"({"space":"s","name":"user.created","authorizerId":"auth","metadata":{"x":"y"}})");
  auto plain = eventTypeFromRequest("s", parse(R"({"name":"n","authorizerId":null})"));
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->authorizerId);
  EXPECT_EQ(errorOf(eventTypeFromRequest("s", parse("{}"))), kE + R"(Missing required field "name".)");
  EXPECT_EQ(errorOf(eventTypeFromRequest("s", parse(R"({"name":"a/b"})"))),
            kE + R"(Field "name" may only contain letters, digits, ".", "-" and "_".)");
  EXPECT_EQ(errorOf(eventTypeFromRequest("s", parse(R"({"name":"n","authorizerId":5})"))),
            kE + R"(Field "authorizerId" must be a string.)");
  EXPECT_EQ(errorOf(eventTypeFromRequest("s", parse(R"({"name":"n","authorizerId":"a b"})"))),
            kE + R"(Field "authorizerId" may only contain letters, digits, ".", "-" and "_".)");
  auto update = eventTypeUpdateFromRequest("s", "url", parse(R"({"name":"other"})"));
  ASSERT_TRUE(update);
  EXPECT_EQ(update->name, "url");
}

// ---- subscriptions, Gen 2 ----

TEST(SubscriptionFromRequest, Gen2Defaults) {
  auto s = subscriptionFromRequest("testspace", parse(R"({"type":"async","eventType":"test.event","functionId":"test"})"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->generation, Generation::k2);
  EXPECT_EQ(s->method, "POST");
  EXPECT_EQ(s->path, "/");
  EXPECT_EQ(s->subscriptionId, "YXN5bmMsdGVzdC5ldmVudCx0ZXN0LCUyRixQT1NU");
}

TEST(SubscriptionFromRequest, Gen2NormalisesMethodAndPath) {
  auto s = subscriptionFromRequest("s", parse(R"({"type":"sync","eventType":"http.request","functionId":"f","method":"get","path":"users/:id"})"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->type, SubscriptionType::kSync);
  EXPECT_EQ(s->method, "GET");
  EXPECT_EQ(s->path, "/users/:id");
  EXPECT_EQ(s->subscriptionId, base64UrlNoPad("sync,http.request,%2Fusers%2F:id,GET"));
}

TEST(SubscriptionFromRequest, Gen2Errors) {
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"functionId":"f","eventType":"e"})"))),
            std::string(kSubscriptionTypeRequired));
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"type":"x","functionId":"f","eventType":"e"})"))),
            kS + R"(Field "type" must be "sync" or "async".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"type":1,"functionId":"f","eventType":"e"})"))),
            kS + R"(Field "type" must be "sync" or "async".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"type":"async","functionId":"f"})"))),
            kS + R"(Missing required field "eventType".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"type":"async","eventType":"e"})"))),
            kS + R"(Missing required field "functionId".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"type":"async","eventType":"e","functionId":"f","method":"TRACE"})"))),
            kS + R"(Field "method" must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS.)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"type":"async","eventType":"e","functionId":"f","path":5})"))),
            kS + R"(Field "path" must be a string.)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"type":"async","eventType":"e","functionId":"f","path":"/*a/b"})"))),
            kS + R"(Field "path" may hold a "*" wildcard only as its last segment.)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"e","type":"async","functionId":"f"})"))),
            kS + R"(field "event" cannot be combined with "type" or "eventType".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse("null"))), kS + "request body must be a JSON object.");
}

// ---- subscriptions, Gen 1 ----

TEST(SubscriptionFromRequest, Gen1CustomEvent) {
  auto s = subscriptionFromRequest("default", parse(R"({"functionId":"sendEmail","event":"user.created","path":"/myteam","method":"put"})"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->generation, Generation::k1);
  EXPECT_EQ(s->type, SubscriptionType::kAsync);
  EXPECT_EQ(s->eventType, "user.created");
  EXPECT_EQ(s->method, "POST");  // custom events are POSTs
  EXPECT_EQ(json::serialize(toJson(*s)),
            R"({"space":"default","subscriptionId":")" + s->subscriptionId +
                R"(","event":"user.created","functionId":"sendEmail","path":"/myteam"})");
}

TEST(SubscriptionFromRequest, Gen1Http) {
  auto s = subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"get","path":"/a",
      "cors":{"origins":["http://*.example.com"],"allowCredentials":true}})"));
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(s->type, SubscriptionType::kSync);
  EXPECT_EQ(s->eventType, kHttpRequestEventType);
  EXPECT_EQ(s->method, "GET");
  ASSERT_TRUE(s->cors);
  EXPECT_EQ(s->cors->origins, std::vector<std::string>{"http://*.example.com"});
  EXPECT_EQ(s->cors->methods, (std::vector<std::string>{"HEAD", "GET", "POST"}));
  EXPECT_EQ(s->cors->headers, (std::vector<std::string>{"Origin", "Accept", "Content-Type"}));
  EXPECT_TRUE(s->cors->allowCredentials);

  auto noCors = subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"GET"})"));
  ASSERT_TRUE(noCors);
  EXPECT_FALSE(noCors->cors);
  EXPECT_EQ(noCors->path, "/");
}

TEST(SubscriptionFromRequest, Gen1Invoke) {
  auto s = subscriptionFromRequest("s", parse(R"({"event":"invoke","functionId":"f"})"));
  ASSERT_TRUE(s);
  EXPECT_EQ(s->type, SubscriptionType::kInvoke);
  EXPECT_EQ(s->subscriptionId, base64UrlNoPad("invoke,f,%2F"));
}

TEST(SubscriptionFromRequest, Gen1Errors) {
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f"})"))),
            kS + R"(Missing required field "method".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"e"})"))),
            kS + R"(Missing required field "functionId".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"a b","functionId":"f"})"))),
            kS + R"(Field "event" may only contain letters, digits, ".", "-" and "_".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"e","functionId":"f","cors":{}})"))),
            kS + R"(field "cors" is only allowed with event "http".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"GET","cors":[]})"))),
            kS + R"(Field "cors" must be an object.)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"GET","cors":{"origins":[]}})"))),
            kS + R"(Field "cors.origins" must not be empty.)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"GET","cors":{"methods":[1]}})"))),
            kS + R"(Field "cors.methods" must be an array of strings.)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"GET","cors":{"allowCredentials":"yes"}})"))),
            kS + R"(Field "cors.allowCredentials" must be a boolean.)");
}

// ---- subscription updates ----

TEST(SubscriptionUpdateFromRequest, OnlyMetadataChanges) {
  auto s = subscriptionFromRequest("s", parse(R"({"type":"sync","eventType":"e","functionId":"f","method":"GET","path":"/a","metadata":{"x":"1"}})"));
  ASSERT_TRUE(s);
  auto same = subscriptionUpdateFromRequest(*s, parse(R"({"type":"sync","eventType":"e","functionId":"f","method":"get","path":"a","subscriptionId":"whatever","metadata":{"x":"2"}})"));
  ASSERT_TRUE(same) << same.error().message;
  EXPECT_EQ(same->metadata->at("x"), "2");
  EXPECT_EQ(same->subscriptionId, s->subscriptionId);
  auto dropped = subscriptionUpdateFromRequest(*s, parse("{}"));
  ASSERT_TRUE(dropped);
  EXPECT_FALSE(dropped->metadata);

  const auto changed = [&](std::string_view body) { return errorOf(subscriptionUpdateFromRequest(*s, parse(body))); };
  EXPECT_EQ(changed(R"({"type":"async"})"), kS + R"(field "type" cannot be changed.)");
  EXPECT_EQ(changed(R"({"eventType":"x"})"), kS + R"(field "eventType" cannot be changed.)");
  EXPECT_EQ(changed(R"({"functionId":"g"})"), kS + R"(field "functionId" cannot be changed.)");
  EXPECT_EQ(changed(R"({"method":"POST"})"), kS + R"(field "method" cannot be changed.)");
  EXPECT_EQ(changed(R"({"path":"/b"})"), kS + R"(field "path" cannot be changed.)");
  EXPECT_EQ(changed(R"({"event":"http"})"), kS + R"(field "event" cannot be changed.)");
  EXPECT_EQ(changed(R"({"method":"BREW"})"),
            kS + R"(Field "method" must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS.)");
  EXPECT_EQ(changed(R"({"metadata":"x"})"), kS + R"(Field "metadata" must be an object of strings.)");
}

TEST(SubscriptionUpdateFromRequest, Gen1Fields) {
  auto s = subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"GET","cors":{}})"));
  ASSERT_TRUE(s);
  EXPECT_TRUE(subscriptionUpdateFromRequest(*s, parse(R"({"event":"http","functionId":"f","method":"GET","path":"/","cors":{}})")));
  EXPECT_EQ(errorOf(subscriptionUpdateFromRequest(*s, parse(R"({"cors":{"allowCredentials":true}})"))),
            kS + R"(field "cors" cannot be changed.)");
  EXPECT_EQ(errorOf(subscriptionUpdateFromRequest(*s, parse(R"({"type":"sync"})"))),
            kS + R"(field "type" cannot be changed.)");
  auto custom = subscriptionFromRequest("s", parse(R"({"event":"e","functionId":"f"})"));
  ASSERT_TRUE(custom);
  EXPECT_TRUE(subscriptionUpdateFromRequest(*custom, parse(R"({"event":"e","method":"PUT"})")));
  EXPECT_EQ(errorOf(subscriptionUpdateFromRequest(*custom, parse(R"({"event":"other"})"))),
            kS + R"(field "event" cannot be changed.)");
}

// ---- delivery policies ----

Result<Subscription> asyncWith(std::string_view policy) {
  return subscriptionFromRequest(
      "s", parse(R"({"type":"async","eventType":"e","functionId":"f","deliveryPolicy":)" +
                 std::string(policy) + "}"));
}

TEST(DeliveryPolicy, EveryFieldIsReadWithItsText) {
  auto s = asyncWith(R"({"retries":5,"backoff":"linear","backoffDelay":"1.5s","maxBackoff":"1m30s",
      "maxEventAge":"2h45m","deadLetterFunctionId":"dlq"})");
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->deliveryPolicy);
  const auto& p = *s->deliveryPolicy;
  EXPECT_EQ(p.retries, 5);
  EXPECT_EQ(p.backoff, Backoff::kLinear);
  EXPECT_EQ(p.backoffDelay->text, "1.5s");
  EXPECT_EQ(p.backoffDelay->value, std::chrono::milliseconds(1500));
  EXPECT_EQ(p.maxBackoff->value, std::chrono::milliseconds(90'000));
  EXPECT_EQ(p.maxEventAge->text, "2h45m");
  EXPECT_EQ(p.maxEventAge->value, std::chrono::milliseconds(9'900'000));
  EXPECT_EQ(p.deadLetterFunctionId, "dlq");
  // The policy is not part of the identity: the same subscription without it has its ID.
  EXPECT_EQ(s->subscriptionId, "YXN5bmMsZSxmLCUyRixQT1NU");
}

TEST(DeliveryPolicy, EmptyIsAllDefaultsAndNullIsAbsent) {
  auto empty = asyncWith("{}");
  ASSERT_TRUE(empty) << empty.error().message;
  ASSERT_TRUE(empty->deliveryPolicy);
  EXPECT_FALSE(empty->deliveryPolicy->retries);
  EXPECT_FALSE(empty->deliveryPolicy->backoff);
  EXPECT_FALSE(empty->deliveryPolicy->deadLetterFunctionId);
  auto none = asyncWith("null");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->deliveryPolicy);
  auto nullFields = asyncWith(R"({"retries":null,"backoff":null,"maxEventAge":null})");
  ASSERT_TRUE(nullFields) << nullFields.error().message;
  ASSERT_TRUE(nullFields->deliveryPolicy);
  EXPECT_FALSE(nullFields->deliveryPolicy->retries);
  EXPECT_FALSE(nullFields->deliveryPolicy->maxEventAge);
  auto bounds = asyncWith(R"({"retries":0,"backoffDelay":"1ms","maxBackoff":"24h","maxEventAge":"720h"})");
  ASSERT_TRUE(bounds) << bounds.error().message;
  EXPECT_EQ(bounds->deliveryPolicy->retries, 0);
  EXPECT_TRUE(asyncWith(R"({"retries":1000,"backoff":"constant","backoffDelay":"500us"})"));
  EXPECT_TRUE(asyncWith(R"({"backoff":"exponential"})"));
}

TEST(DeliveryPolicy, EachBadFieldIsNamed) {
  const auto error = [](std::string_view policy) { return errorOf(asyncWith(policy)); };
  EXPECT_EQ(error(R"("fast")"), kS + R"(Field "deliveryPolicy" must be an object.)");
  EXPECT_EQ(error("[]"), kS + R"(Field "deliveryPolicy" must be an object.)");
  const std::string retries = kS + R"(Field "deliveryPolicy.retries" must be an integer between 0 and 1000.)";
  EXPECT_EQ(error(R"({"retries":-1})"), retries);
  EXPECT_EQ(error(R"({"retries":1001})"), retries);
  EXPECT_EQ(error(R"({"retries":1.5})"), retries);
  EXPECT_EQ(error(R"({"retries":2.0})"), retries);
  EXPECT_EQ(error(R"({"retries":"3"})"), retries);
  EXPECT_EQ(error(R"({"retries":18446744073709551615})"), retries);
  const std::string backoff =
      kS + R"(Field "deliveryPolicy.backoff" must be "exponential", "linear" or "constant".)";
  EXPECT_EQ(error(R"({"backoff":"Linear"})"), backoff);
  EXPECT_EQ(error(R"({"backoff":1})"), backoff);
  for (const char* field : {"backoffDelay", "maxBackoff", "maxEventAge"}) {
    const std::string name = std::string("deliveryPolicy.") + field;
    const std::string syntax = kS + "Field \"" + name + R"(" must be a duration such as "200ms", "1m30s" or "1.5h".)";
    const auto with = [&](std::string_view value) {
      return error("{\"" + std::string(field) + "\":" + std::string(value) + "}");
    };
    EXPECT_EQ(with(R"("10")"), syntax) << field;
    EXPECT_EQ(with(R"("5 s")"), syntax) << field;
    EXPECT_EQ(with(R"("-1s")"), syntax) << field;
    EXPECT_EQ(with(R"("")"), syntax) << field;
    EXPECT_EQ(with("200"), syntax) << field;
    const std::string limit = std::string_view(field) == "maxEventAge" ? "720h" : "24h";
    const std::string range = kS + "Field \"" + name + "\" must be between 1ms and " + limit + ".";
    EXPECT_EQ(with(R"("0")"), range) << field;
    EXPECT_EQ(with(R"("0s")"), range) << field;
    EXPECT_EQ(with(std::string_view(field) == "maxEventAge" ? R"("721h")" : R"("24h1ms")"), range)
        << field;
  }
  EXPECT_EQ(error(R"({"backoffDelay":"2m","maxBackoff":"1m"})"),
            kS + R"(Field "deliveryPolicy.backoffDelay" must not exceed "deliveryPolicy.maxBackoff".)");
  EXPECT_EQ(error(R"({"deadLetterFunctionId":"a b"})"),
            kS + R"(Field "deliveryPolicy.deadLetterFunctionId" may only contain letters, digits, ".", "-" and "_".)");
  EXPECT_EQ(error(R"({"deadLetterFunctionId":""})"),
            kS + R"(Field "deliveryPolicy.deadLetterFunctionId" may only contain letters, digits, ".", "-" and "_".)");
  EXPECT_EQ(error(R"({"deadLetterFunctionId":7})"),
            kS + R"(Field "deliveryPolicy.deadLetterFunctionId" must be a string.)");
}

TEST(DeliveryPolicy, UnknownFieldsAreRefused) {
  EXPECT_EQ(errorOf(asyncWith(R"({"retries":3,"retry":5})")),
            kS + R"(Field "deliveryPolicy.retry" is unknown; a delivery policy has retries, backoff, backoffDelay, maxBackoff, maxEventAge and deadLetterFunctionId.)");
  // Even when null: a misspelt field is reported whatever its value.
  EXPECT_EQ(errorOf(asyncWith(R"({"deadLetter":null})")),
            kS + R"(Field "deliveryPolicy.deadLetter" is unknown; a delivery policy has retries, backoff, backoffDelay, maxBackoff, maxEventAge and deadLetterFunctionId.)");
}

TEST(DeliveryPolicy, OnlyOnAsyncSubscriptions) {
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"type":"sync","eventType":"e","functionId":"f","deliveryPolicy":{}})"))),
            kS + R"(field "deliveryPolicy" is only allowed with type "async".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"GET","deliveryPolicy":{"retries":1}})"))),
            kS + R"(field "deliveryPolicy" is not allowed with event "http".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"invoke","functionId":"f","deliveryPolicy":{}})"))),
            kS + R"(field "deliveryPolicy" is not allowed with event "invoke".)");
  EXPECT_TRUE(subscriptionFromRequest("s", parse(R"({"type":"sync","eventType":"e","functionId":"f","deliveryPolicy":null})")));

  auto gen1 = subscriptionFromRequest("s", parse(R"({"event":"user.created","functionId":"f","deliveryPolicy":{"retries":2}})"));
  ASSERT_TRUE(gen1) << gen1.error().message;
  ASSERT_TRUE(gen1->deliveryPolicy);
  EXPECT_EQ(gen1->deliveryPolicy->retries, 2);
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", parse(R"({"event":"user.created","functionId":"f","deliveryPolicy":{"retries":-2}})"))),
            kS + R"(Field "deliveryPolicy.retries" must be an integer between 0 and 1000.)");
}

TEST(DeliveryPolicy, PutReplacesIt) {
  auto s = asyncWith(R"({"retries":5,"deadLetterFunctionId":"dlq"})");
  ASSERT_TRUE(s);
  auto replaced = subscriptionUpdateFromRequest(*s, parse(R"({"deliveryPolicy":{"backoff":"constant"}})"));
  ASSERT_TRUE(replaced) << replaced.error().message;
  ASSERT_TRUE(replaced->deliveryPolicy);
  EXPECT_FALSE(replaced->deliveryPolicy->retries);  // replaced, not merged
  EXPECT_EQ(replaced->deliveryPolicy->backoff, Backoff::kConstant);
  auto removed = subscriptionUpdateFromRequest(*s, parse(R"({"metadata":{"a":"b"}})"));
  ASSERT_TRUE(removed);
  EXPECT_FALSE(removed->deliveryPolicy);
  EXPECT_EQ(errorOf(subscriptionUpdateFromRequest(*s, parse(R"({"deliveryPolicy":{"maxEventAge":"1d"}})"))),
            kS + R"(Field "deliveryPolicy.maxEventAge" must be a duration such as "200ms", "1m30s" or "1.5h".)");

  auto sync = subscriptionFromRequest("s", parse(R"({"type":"sync","eventType":"e","functionId":"f"})"));
  ASSERT_TRUE(sync);
  EXPECT_EQ(errorOf(subscriptionUpdateFromRequest(*sync, parse(R"({"deliveryPolicy":{}})"))),
            kS + R"(field "deliveryPolicy" is only allowed with type "async".)");
  auto http = subscriptionFromRequest("s", parse(R"({"event":"http","functionId":"f","method":"GET"})"));
  ASSERT_TRUE(http);
  EXPECT_EQ(errorOf(subscriptionUpdateFromRequest(*http, parse(R"({"deliveryPolicy":{}})"))),
            kS + R"(field "deliveryPolicy" is not allowed with event "http".)");
  auto gen1 = subscriptionFromRequest("s", parse(R"({"event":"e","functionId":"f"})"));
  ASSERT_TRUE(gen1);
  auto gen1Updated = subscriptionUpdateFromRequest(*gen1, parse(R"({"event":"e","deliveryPolicy":{"retries":0}})"));
  ASSERT_TRUE(gen1Updated) << gen1Updated.error().message;
  EXPECT_EQ(gen1Updated->deliveryPolicy->retries, 0);
}

// ---- CORS ----

TEST(CorsFromRequest, DefaultsAndId) {
  auto c = corsFromRequest("testspace", parse(R"({"method":"get","path":"test","allowedOrigins":["http://example.com"]})"));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(c->corsId, "GET%2Ftest");
  EXPECT_EQ(json::serialize(toJson(*c)),
            R"({"space":"testspace","corsId":"GET%2Ftest","method":"GET","path":"/test","allowedOrigins":["http://example.com"],"allowedMethods":["HEAD","GET","POST"],"allowedHeaders":["Origin","Accept","Content-Type"],"allowCredentials":false})");
}

TEST(CorsFromRequest, Errors) {
  EXPECT_EQ(errorOf(corsFromRequest("s", parse(R"({"path":"/"})"))), kC + R"(Missing required field "method".)");
  EXPECT_EQ(errorOf(corsFromRequest("s", parse(R"({"method":"GET"})"))), kC + R"(Missing required field "path".)");
  EXPECT_EQ(errorOf(corsFromRequest("s", parse(R"({"method":"GET","path":"/","allowedOrigins":"*"})"))),
            kC + R"(Field "allowedOrigins" must be an array of strings.)");
  EXPECT_EQ(errorOf(corsFromRequest("s", parse(R"({"method":"GET","path":"/","allowedHeaders":[]})"))),
            kC + R"(Field "allowedHeaders" must not be empty.)");
  EXPECT_EQ(errorOf(corsFromRequest("s", parse(R"({"method":"GET","path":"/","allowCredentials":1})"))),
            kC + R"(Field "allowCredentials" must be a boolean.)");
}

TEST(CorsUpdateFromRequest, MethodAndPathAreFixed) {
  auto c = corsFromRequest("s", parse(R"({"method":"GET","path":"/t","allowedOrigins":["a"]})"));
  ASSERT_TRUE(c);
  auto u = corsUpdateFromRequest(*c, parse(R"({"corsId":"x","method":"get","path":"/t","allowedMethods":["GET"]})"));
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(u->corsId, "GET%2Ft");
  EXPECT_EQ(u->rules.methods, std::vector<std::string>{"GET"});
  EXPECT_EQ(u->rules.origins, std::vector<std::string>{"*"});  // absent: the default again
  EXPECT_EQ(errorOf(corsUpdateFromRequest(*c, parse(R"({"method":"POST"})"))),
            kC + R"(field "method" cannot be changed.)");
  EXPECT_EQ(errorOf(corsUpdateFromRequest(*c, parse(R"({"path":"/u"})"))),
            kC + R"(field "path" cannot be changed.)");
}

// ---- filters ----

TEST(SubscriptionFilters, KeptAsWrittenOnAsyncSubscriptions) {
  const std::string filters =
      R"([{"exact":{"type":"order.created"}},{"any":[{"prefix":{"data.region":"eu-"}},)"
      R"({"not":{"suffix":{"source":"/test"}}}]}])";
  auto s = subscriptionFromRequest(
      "s", parse(R"({"type":"async","eventType":"e","functionId":"f","filters":)" + filters + "}"));
  ASSERT_TRUE(s) << s.error().message;
  ASSERT_TRUE(s->filters);
  EXPECT_EQ(json::serialize(*s->filters), filters);
  auto gen1 = subscriptionFromRequest(
      "s", parse(R"({"event":"user.created","functionId":"f","filters":[{"exact":{"id":"1"}}]})"));
  ASSERT_TRUE(gen1) << gen1.error().message;
  EXPECT_TRUE(gen1->filters);
  auto none = subscriptionFromRequest(
      "s", parse(R"({"type":"async","eventType":"e","functionId":"f","filters":null})"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->filters);
  auto empty = subscriptionFromRequest(
      "s", parse(R"({"type":"async","eventType":"e","functionId":"f","filters":[]})"));
  ASSERT_TRUE(empty);
  ASSERT_TRUE(empty->filters);
  EXPECT_TRUE(empty->filters->empty());
}

TEST(SubscriptionFilters, MalformedFiltersAreNamedWhere) {
  const auto error = [](std::string_view filters) {
    return errorOf(subscriptionFromRequest(
        "s", parse(R"({"type":"async","eventType":"e","functionId":"f","filters":)" +
                   std::string(filters) + "}")));
  };
  EXPECT_EQ(error(R"({"exact":{"type":"x"}})"),
            kS + "filters: must be an array of expressions");
  EXPECT_EQ(error(R"([{"exact":{"type":"x"}},{"all":[{"exact":{"a":"1","b":"2"}}]}])"),
            kS + R"(filters[1].all[0].exact: "exact" must hold exactly one attribute)");
  EXPECT_EQ(error(R"([{"regex":{"type":"x"}}])"),
            kS + R"(filters[0]: "regex" is not a filter dialect: "exact", "prefix", "suffix", "all", "any" or "not")");
}

TEST(SubscriptionFilters, RefusedOnSyncAndInvokeSubscriptions) {
  EXPECT_EQ(errorOf(subscriptionFromRequest(
                "s", parse(R"({"type":"sync","eventType":"e","functionId":"f","filters":[]})"))),
            kS + R"(field "filters" is only allowed with type "async".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest(
                "s", parse(R"({"event":"http","method":"GET","functionId":"f","filters":[]})"))),
            kS + R"(field "filters" is not allowed with event "http".)");
  EXPECT_EQ(errorOf(subscriptionFromRequest(
                "s", parse(R"({"event":"invoke","functionId":"f","filters":[]})"))),
            kS + R"(field "filters" is not allowed with event "invoke".)");
}

TEST(SubscriptionFilters, PutReplacesOrRemovesThem) {
  auto s = subscriptionFromRequest(
      "s", parse(R"({"type":"async","eventType":"e","functionId":"f","filters":[{"exact":{"id":"1"}}]})"));
  ASSERT_TRUE(s);
  auto changed = subscriptionUpdateFromRequest(
      *s, parse(R"({"type":"async","filters":[{"prefix":{"id":"2"}}]})"));
  ASSERT_TRUE(changed) << changed.error().message;
  EXPECT_EQ(json::serialize(*changed->filters), R"([{"prefix":{"id":"2"}}])");
  auto removed = subscriptionUpdateFromRequest(*s, parse(R"({"metadata":{"k":"v"}})"));
  ASSERT_TRUE(removed);
  EXPECT_FALSE(removed->filters);
  EXPECT_EQ(errorOf(subscriptionUpdateFromRequest(*s, parse(R"({"filters":[{"not":[]}]})"))),
            kS + R"(filters[0].not: an expression is an object with one key: "exact", "prefix", "suffix", "all", "any" or "not")");
}

// ---- function limits ----

Result<Function> functionWithLimits(std::string_view limits) {
  return functionFromRequest(
      "s", parse(R"({"functionId":"f","type":"http","provider":{"url":"http://x/"},"limits":)" +
                 std::string(limits) + "}"));
}

TEST(FunctionLimitsValidation, EachFieldIsReadAndBounded) {
  auto all = functionWithLimits(R"({"rate":2.5,"burst":10,"concurrency":4})");
  ASSERT_TRUE(all) << all.error().message;
  ASSERT_TRUE(all->limits);
  EXPECT_EQ(all->limits->rate, 2.5);
  EXPECT_EQ(all->limits->burst, 10);
  EXPECT_EQ(all->limits->concurrency, 4);
  auto none = functionWithLimits("null");
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->limits);
  const std::string kF(kFunctionInvalid);
  const auto error = [](std::string_view l) { return errorOf(functionWithLimits(l)); };
  EXPECT_EQ(error("5"), kF + R"(Field "limits" must be an object.)");
  EXPECT_EQ(error("{}"), kF + R"(Field "limits" must set "rate" or "concurrency".)");
  EXPECT_EQ(error(R"({"rate":0})"),
            kF + R"(Field "limits.rate" must be a number above 0 and at most 1000000 (calls per second).)");
  EXPECT_EQ(error(R"({"rate":"5"})"),
            kF + R"(Field "limits.rate" must be a number above 0 and at most 1000000 (calls per second).)");
  EXPECT_EQ(error(R"({"rate":5,"burst":0})"),
            kF + R"(Field "limits.burst" must be an integer between 1 and 1000000.)");
  EXPECT_EQ(error(R"({"concurrency":100001})"),
            kF + R"(Field "limits.concurrency" must be an integer between 1 and 100000.)");
  EXPECT_EQ(error(R"({"burst":5})"), kF + R"(Field "limits.burst" needs "limits.rate".)");
  EXPECT_EQ(error(R"({"rate":5,"rps":1})"),
            kF + R"(Field "limits.rps" is unknown; limits are rate, burst and concurrency.)");
}

// ---- authorizerCache (spec §6) ----

TEST(AuthorizerCache, TtlAndKeyAreReadWithTheirText) {
  auto e = eventTypeFromRequest("s", parse(R"({"name":"e","authorizerId":"auth",
      "authorizerCache":{"ttl":"1m30s","key":["header:X-Api-Key","query:tenant"]}})"));
  ASSERT_TRUE(e) << e.error().message;
  ASSERT_TRUE(e->authorizerCache);
  EXPECT_EQ(e->authorizerCache->ttl.text, "1m30s");
  EXPECT_EQ(e->authorizerCache->ttl.value, std::chrono::seconds(90));
  ASSERT_TRUE(e->authorizerCache->key);
  EXPECT_EQ(*e->authorizerCache->key,
            (std::vector<std::string>{"header:X-Api-Key", "query:tenant"}));

  auto defaults = eventTypeFromRequest("s", parse(R"({"name":"e","authorizerId":"a","authorizerCache":{"ttl":"300ms"}})"));
  ASSERT_TRUE(defaults);
  ASSERT_TRUE(defaults->authorizerCache);
  EXPECT_FALSE(defaults->authorizerCache->key);
  auto none = eventTypeFromRequest("s", parse(R"({"name":"e","authorizerCache":null})"));
  ASSERT_TRUE(none);
  EXPECT_FALSE(none->authorizerCache);
  EXPECT_TRUE(eventTypeFromRequest("s", parse(R"({"name":"e","authorizerId":"a","authorizerCache":{"ttl":"24h"}})")));
  EXPECT_TRUE(eventTypeFromRequest("s", parse(R"({"name":"e","authorizerId":"a","authorizerCache":{"ttl":"1ms","key":null}})")));
}

TEST(AuthorizerCache, EachBadFieldIsNamed) {
  auto error = [](std::string_view cache) {
    return errorOf(eventTypeFromRequest(
        "s", parse(R"({"name":"e","authorizerId":"a","authorizerCache":)" + std::string(cache) + "}")));
  };
  EXPECT_EQ(error(R"("1s")"), kE + R"(Field "authorizerCache" must be an object.)");
  EXPECT_EQ(error("{}"), kE + R"(Missing required field "authorizerCache.ttl".)");
  EXPECT_EQ(error(R"({"key":["query:a"]})"), kE + R"(Missing required field "authorizerCache.ttl".)");
  const std::string notADuration =
      kE + R"(Field "authorizerCache.ttl" must be a duration such as "200ms", "1m30s" or "1.5h".)";
  EXPECT_EQ(error(R"({"ttl":"10"})"), notADuration);
  EXPECT_EQ(error(R"({"ttl":5})"), notADuration);
  const std::string range = kE + R"(Field "authorizerCache.ttl" must be between 1ms and 24h.)";
  EXPECT_EQ(error(R"({"ttl":"0s"})"), range);
  EXPECT_EQ(error(R"({"ttl":"24h1ms"})"), range);
  const std::string key = kE + R"(Field "authorizerCache.key" must be an array of 1 to 8 entries, each "header:<Name>" or "query:<name>".)";
  EXPECT_EQ(error(R"({"ttl":"1s","key":[]})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":"header:A"})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":["cookie:a"]})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":["header:"]})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":["header:a b"]})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":["query:"]})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":["query:a\nb"]})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":[1]})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":["header:a","header:b","header:c","header:d","header:e",)"
                  R"("header:f","header:g","header:h","header:i"]})"),
            key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":["header:)" + std::string(257, 'a') + R"("]})"), key);
  EXPECT_EQ(error(R"({"ttl":"1s","key":["query:)" + std::string(256, 'a') + R"("]})"), "<ok>");
  EXPECT_EQ(error(R"({"ttl":"1s","key":["query:tenant id","header:X-Key"]})"), "<ok>");
}

TEST(AuthorizerCache, UnknownFieldsAreRefused) {
  EXPECT_EQ(errorOf(eventTypeFromRequest("s", parse(R"({"name":"e","authorizerId":"a","authorizerCache":{"ttl":"1s","keys":["query:a"]}})"))),
            kE + R"(Field "authorizerCache.keys" is unknown; an authorizer cache has ttl and key.)");
}

TEST(AuthorizerCache, OnlyWithAnAuthorizer) {
  const std::string refused = kE + R"(Field "authorizerCache" is only allowed with "authorizerId".)";
  EXPECT_EQ(errorOf(eventTypeFromRequest("s", parse(R"({"name":"e","authorizerCache":{"ttl":"1s"}})"))), refused);
  EXPECT_EQ(errorOf(eventTypeUpdateFromRequest("s", "e", parse(R"({"authorizerId":null,"authorizerCache":{"ttl":"1s"}})"))), refused);
}

TEST(AuthorizerCache, PutReplacesIt) {
  auto set = eventTypeUpdateFromRequest("s", "e", parse(R"({"authorizerId":"a","authorizerCache":{"ttl":"1s"}})"));
  ASSERT_TRUE(set);
  EXPECT_TRUE(set->authorizerCache);
  auto cleared = eventTypeUpdateFromRequest("s", "e", parse(R"({"authorizerId":"a"})"));
  ASSERT_TRUE(cleared);
  EXPECT_FALSE(cleared->authorizerCache);
}

}  // namespace
}  // namespace eg::model
