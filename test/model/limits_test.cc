// Every bound of model/limits.h that validation enforces: a value at the limit is
// accepted, one byte (or entry) over it is refused with a message naming the field.
#include "model/limits.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "model/validation.h"

namespace eg::model {
namespace {

namespace json = boost::json;

template <class T>
std::string errorOf(const Result<T>& r) {
  if (r) return "<ok>";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

std::string longer(std::size_t max) {
  return " must be at most " + std::to_string(max) + " bytes long.";
}
std::string a(std::size_t n) { return std::string(n, 'a'); }

const std::string kF(kFunctionInvalid);
const std::string kE(kEventTypeInvalid);
const std::string kS(kSubscriptionInvalid);
const std::string kC(kCorsInvalid);

json::object httpFunction() {
  return {{"functionId", "f"}, {"type", "http"}, {"provider", {{"url", "http://x"}}}};
}
json::object asyncSubscription() {
  return {{"type", "async"}, {"eventType", "e"}, {"functionId", "f"}};
}
json::object gen1Http() {
  return {{"event", "http"}, {"functionId", "f"}, {"method", "GET"}, {"path", "/"}};
}
json::object corsBody() { return {{"method", "GET"}, {"path", "/p"}}; }

json::object with(json::object body, std::string_view field, json::value value) {
  body[field] = std::move(value);
  return body;
}

// ---- names ----

TEST(Limits, Names) {
  const std::string ok = a(kMaxNameLength);
  const std::string over = a(kMaxNameLength + 1);
  const auto tooLong = [](std::string_view field) {
    return "Field \"" + std::string(field) + "\"" + longer(kMaxNameLength);
  };

  EXPECT_TRUE(functionFromRequest("s", with(httpFunction(), "functionId", json::string(ok))));
  EXPECT_EQ(errorOf(functionFromRequest("s", with(httpFunction(), "functionId", json::string(over)))),
            kF + tooLong("functionId"));

  EXPECT_TRUE(eventTypeFromRequest("s", json::object{{"name", ok}, {"authorizerId", ok}}));
  EXPECT_EQ(errorOf(eventTypeFromRequest("s", json::object{{"name", over}})), kE + tooLong("name"));
  EXPECT_EQ(errorOf(eventTypeUpdateFromRequest("s", "n", json::object{{"authorizerId", over}})),
            kE + tooLong("authorizerId"));

  for (const auto* field : {"eventType", "functionId"}) {
    EXPECT_TRUE(subscriptionFromRequest("s", with(asyncSubscription(), field, json::string(ok))));
    EXPECT_EQ(errorOf(subscriptionFromRequest("s", with(asyncSubscription(), field, json::string(over)))),
              kS + tooLong(field));
  }
  const json::object gen1{{"event", ok}, {"functionId", "f"}};
  EXPECT_TRUE(subscriptionFromRequest("s", gen1));
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", with(gen1, "event", json::string(over)))),
            kS + tooLong("event"));
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", with(gen1, "functionId", json::string(over)))),
            kS + tooLong("functionId"));

  EXPECT_TRUE(subscriptionFromRequest(
      "s", with(asyncSubscription(), "deliveryPolicy", {{"deadLetterFunctionId", ok}})));
  EXPECT_EQ(errorOf(subscriptionFromRequest(
                "s", with(asyncSubscription(), "deliveryPolicy", {{"deadLetterFunctionId", over}}))),
            kS + tooLong("deliveryPolicy.deadLetterFunctionId"));
}

TEST(Limits, Space) {
  EXPECT_TRUE(checkSpace(a(kMaxNameLength)));
  EXPECT_EQ(errorOf(checkSpace(a(kMaxNameLength + 1))),
            "Space is invalid: a space name is at most 256 bytes long.");
  EXPECT_EQ(errorOf(checkSpace("a b")),
            R"(Space "a b" is invalid: only letters, digits, ".", "-" and "_" are allowed.)");
}

// ---- paths ----

TEST(Limits, PathLength) {
  EXPECT_EQ(normalizePath("/" + a(kMaxPathLength - 1))->size(), kMaxPathLength);
  // The leading "/" added counts.
  EXPECT_EQ(normalizePath(a(kMaxPathLength - 1))->size(), kMaxPathLength);
  EXPECT_EQ(errorOf(normalizePath(a(kMaxPathLength))), "Field \"path\"" + longer(kMaxPathLength));

  const std::string over = "/" + a(kMaxPathLength);
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", with(asyncSubscription(), "path", json::string(over)))),
            kS + "Field \"path\"" + longer(kMaxPathLength));
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", with(gen1Http(), "path", json::string(over)))),
            kS + "Field \"path\"" + longer(kMaxPathLength));
  EXPECT_EQ(errorOf(corsFromRequest("s", with(corsBody(), "path", json::string(over)))),
            kC + "Field \"path\"" + longer(kMaxPathLength));
}

TEST(Limits, PathSegments) {
  std::string ok;
  for (std::size_t i = 0; i < kMaxPathSegments; ++i) ok += "/:p" + std::to_string(i);
  EXPECT_TRUE(normalizePath(ok));
  EXPECT_TRUE(normalizePath(ok.substr(0, ok.rfind('/')) + "/"));  // an empty last segment
  const std::string over = ok + "/x";
  const std::string message = "Field \"path\" must have at most 64 segments.";
  EXPECT_EQ(errorOf(normalizePath(over)), message);
  EXPECT_EQ(errorOf(normalizePath(ok + "/")), message);
  EXPECT_EQ(errorOf(subscriptionFromRequest("s", with(asyncSubscription(), "path", json::string(over)))),
            kS + message);
  EXPECT_EQ(errorOf(corsFromRequest("s", with(corsBody(), "path", json::string(over)))), kC + message);
}

// ---- metadata, on every kind ----

// Decodes a body of one kind with `metadata` and answers the error message, or "<ok>".
using Decode = std::function<std::string(const json::object& metadata)>;

std::vector<std::pair<std::string, Decode>> everyKind() {
  const Subscription sub = *subscriptionFromRequest("s", json::value(asyncSubscription()));
  const Cors cors = *corsFromRequest("s", json::value(corsBody()));
  const auto body = [](json::object b, const json::object& m) {
    return json::value(with(std::move(b), "metadata", m));
  };
  return {
      {kF, [=](const auto& m) { return errorOf(functionFromRequest("s", body(httpFunction(), m))); }},
      {kE, [=](const auto& m) { return errorOf(eventTypeFromRequest("s", body({{"name", "n"}}, m))); }},
      {kS,
       [=](const auto& m) { return errorOf(subscriptionFromRequest("s", body(asyncSubscription(), m))); }},
      {kS, [=](const auto& m) { return errorOf(subscriptionFromRequest("s", body(gen1Http(), m))); }},
      {kS, [=](const auto& m) { return errorOf(subscriptionUpdateFromRequest(sub, body({}, m))); }},
      {kC, [=](const auto& m) { return errorOf(corsFromRequest("s", body(corsBody(), m))); }},
      {kC, [=](const auto& m) { return errorOf(corsUpdateFromRequest(cors, body({}, m))); }},
  };
}

TEST(Limits, Metadata) {
  json::object full;
  for (std::size_t i = 0; i < kMaxMetadataEntries; ++i) full["k" + std::to_string(i)] = "v";
  json::object tooMany = full;
  tooMany["one-more"] = "v";
  const json::object longest{{a(kMaxMetadataKeyLength), a(kMaxMetadataValueLength)}};
  const json::object keyOver{{a(kMaxMetadataKeyLength + 1), "v"}};
  const json::object valueOver{{"team", a(kMaxMetadataValueLength + 1)}};

  for (const auto& [prefix, decode] : everyKind()) {
    EXPECT_EQ(decode(full), "<ok>");
    EXPECT_EQ(decode(longest), "<ok>");
    EXPECT_EQ(decode(tooMany), prefix + R"(Field "metadata" must have at most 64 entries.)");
    EXPECT_EQ(decode(keyOver), prefix + R"(Field "metadata" has a key longer than 256 bytes.)");
    EXPECT_EQ(decode(valueOver),
              prefix + "Field \"metadata.team\"" + longer(kMaxMetadataValueLength));
  }
}

// ---- CORS lists, of CORS resources and Gen 1 http subscriptions ----

TEST(Limits, CorsLists) {
  json::array full;
  for (std::size_t i = 0; i < kMaxCorsEntries - 1; ++i) full.emplace_back("x");
  full.emplace_back(a(kMaxCorsEntryLength));
  json::array tooMany = full;
  tooMany.emplace_back("x");
  const json::array entryOver{a(kMaxCorsEntryLength + 1)};

  const Cors existing = *corsFromRequest("s", json::value(corsBody()));
  for (const auto* field : {"allowedOrigins", "allowedMethods", "allowedHeaders"}) {
    EXPECT_TRUE(corsFromRequest("s", with(corsBody(), field, full)));
    EXPECT_EQ(errorOf(corsFromRequest("s", with(corsBody(), field, tooMany))),
              kC + "Field \"" + field + "\" must have at most 64 entries.");
    EXPECT_EQ(errorOf(corsUpdateFromRequest(existing, json::object{{field, entryOver}})),
              kC + "Field \"" + field + "\" has an entry longer than 1024 bytes.");
  }
  for (const auto* field : {"origins", "methods", "headers"}) {
    EXPECT_TRUE(subscriptionFromRequest("s", with(gen1Http(), "cors", {{field, full}})));
    EXPECT_EQ(errorOf(subscriptionFromRequest("s", with(gen1Http(), "cors", {{field, tooMany}}))),
              kS + "Field \"cors." + field + "\" must have at most 64 entries.");
    EXPECT_EQ(errorOf(subscriptionFromRequest("s", with(gen1Http(), "cors", {{field, entryOver}}))),
              kS + "Field \"cors." + field + "\" has an entry longer than 1024 bytes.");
  }
}

// ---- delivery policy durations ----

TEST(Limits, DeliveryPolicyDurations) {
  const std::string ok = std::string(kMaxDurationLength - 3, '0') + "1ms";
  const std::string over = "0" + ok;
  for (const auto* field : {"backoffDelay", "maxBackoff", "maxEventAge"}) {
    auto s = subscriptionFromRequest("s", with(asyncSubscription(), "deliveryPolicy", {{field, ok}}));
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ(errorOf(subscriptionFromRequest(
                  "s", with(asyncSubscription(), "deliveryPolicy", {{field, over}}))),
              kS + "Field \"deliveryPolicy." + field + "\"" + longer(kMaxDurationLength));
  }
}

// ---- the provider object as a whole ----

TEST(Limits, ProviderObject) {
  // {"x":"…"} is 8 bytes of JSON around the value.
  const json::object atLimit{{"x", a(kMaxProviderBytes - 8)}};
  EXPECT_EQ(json::serialize(atLimit).size(), kMaxProviderBytes);
  EXPECT_TRUE(functionFromRequest("s", with(httpFunction(), "provider", atLimit)));
  const json::object over{{"x", a(kMaxProviderBytes - 7)}};
  const std::string message = kF + R"(Field "provider" must be at most 65536 bytes as JSON.)";
  EXPECT_EQ(errorOf(functionFromRequest("s", with(httpFunction(), "provider", over))), message);
  EXPECT_EQ(errorOf(functionUpdateFromRequest("s", "f", with(httpFunction(), "provider", over))),
            message);
}

}  // namespace
}  // namespace eg::model
