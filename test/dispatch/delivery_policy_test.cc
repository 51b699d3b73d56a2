#include "dispatch/delivery_policy.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace eg::dispatch {
namespace {

namespace json = boost::json;
using std::chrono::milliseconds;

EffectivePolicy policy(model::Backoff backoff, int delayMs, int maxMs) {
  EffectivePolicy p;
  p.backoff = backoff;
  p.backoffDelay = milliseconds(delayMs);
  p.maxBackoff = milliseconds(maxMs);
  return p;
}

TEST(DeliveryPolicyTest, TheSubscriptionsFieldsWinAndTheDefaultsFillTheRest) {
  DeliveryDefaults defaults;
  defaults.retries = 3;
  // Boxed, as the snapshot holds it: the effective policy points into it.
  Boxed<model::DeliveryPolicy> given{model::DeliveryPolicy{}};
  given->backoff = model::Backoff::kLinear;
  given->maxEventAge = model::Duration{"1h", milliseconds(3'600'000)};
  given->deadLetterFunctionId = "dlq";
  const EffectivePolicy p = effectivePolicy(given, defaults);
  EXPECT_EQ(p.retries, 3);
  EXPECT_EQ(p.backoff, model::Backoff::kLinear);
  EXPECT_EQ(p.backoffDelay, defaults.backoffDelay);
  EXPECT_EQ(p.maxEventAge, milliseconds(3'600'000));
  EXPECT_EQ(p.deadLetter, "dlq");
  const Boxed<model::DeliveryPolicy> none;
  EXPECT_TRUE(effectivePolicy(none, defaults).deadLetter.empty());
}

TEST(DeliveryPolicyTest, BackoffCeilingsGrowAsTheirKindSaysUpToTheMaximum) {
  const auto e = policy(model::Backoff::kExponential, 200, 60'000);
  EXPECT_EQ(backoffCeiling(e, 1), milliseconds(200));
  EXPECT_EQ(backoffCeiling(e, 2), milliseconds(400));
  EXPECT_EQ(backoffCeiling(e, 5), milliseconds(3200));
  EXPECT_EQ(backoffCeiling(e, 20), milliseconds(60'000));
  EXPECT_EQ(backoffCeiling(e, 1000), milliseconds(60'000));
  const auto l = policy(model::Backoff::kLinear, 200, 1000);
  EXPECT_EQ(backoffCeiling(l, 1), milliseconds(200));
  EXPECT_EQ(backoffCeiling(l, 3), milliseconds(600));
  EXPECT_EQ(backoffCeiling(l, 1000), milliseconds(1000));
  const auto c = policy(model::Backoff::kConstant, 250, 1000);
  EXPECT_EQ(backoffCeiling(c, 1), milliseconds(250));
  EXPECT_EQ(backoffCeiling(c, 999), milliseconds(250));
}

TEST(DeliveryPolicyTest, FullJitterSpreadsDelaysOverTheWholeRange) {
  const auto p = policy(model::Backoff::kConstant, 1000, 60'000);
  std::mt19937_64 random(1);
  milliseconds low{1000}, high{0};
  for (int i = 0; i < 2000; ++i) {
    const auto d = retryDelay(p, 1, std::nullopt, random);
    ASSERT_GE(d.count(), 0);
    ASSERT_LE(d.count(), 1000);
    low = std::min(low, d);
    high = std::max(high, d);
  }
  EXPECT_LT(low.count(), 100);
  EXPECT_GT(high.count(), 900);
}

TEST(DeliveryPolicyTest, ARetryAfterIsHonouredUpToMaxBackoff) {
  const auto p = policy(model::Backoff::kExponential, 200, 5000);
  std::mt19937_64 random(1);
  EXPECT_EQ(retryDelay(p, 1, milliseconds(3000), random), milliseconds(3000));
  EXPECT_EQ(retryDelay(p, 1, milliseconds(90'000), random), milliseconds(5000));
}

TEST(DeliveryPolicyTest, WhatIsRetriedAndWhatIsFinal) {
  using R = Result<providers::CallResult>;
  auto answer = [](unsigned status) {
    providers::CallResult r;
    r.status = status;
    return R(r);
  };
  EXPECT_EQ(classifyCall(answer(200)).kind, CallOutcome::kDelivered);
  EXPECT_EQ(classifyCall(answer(204)).kind, CallOutcome::kDelivered);
  EXPECT_EQ(classifyCall(answer(404)).kind, CallOutcome::kFinal);
  EXPECT_EQ(classifyCall(answer(400)).kind, CallOutcome::kFinal);
  EXPECT_EQ(classifyCall(answer(408)).kind, CallOutcome::kRetry);
  providers::CallResult throttled;
  throttled.status = 429;
  throttled.retryAfter = milliseconds(2000);
  const CallOutcome t = classifyCall(R(throttled));
  EXPECT_EQ(t.kind, CallOutcome::kRetry);
  EXPECT_EQ(t.retryAfter, milliseconds(2000));
  EXPECT_NE(t.error.find("429"), std::string::npos);
  Error unavailable = Error::unavailable("http 503 from x");
  unavailable.retryAfter = milliseconds(700);
  EXPECT_EQ(classifyCall(R(unavailable)).kind, CallOutcome::kRetry);
  EXPECT_EQ(classifyCall(R(unavailable)).retryAfter, milliseconds(700));
  EXPECT_EQ(classifyCall(R(Error::timeout("slow"))).kind, CallOutcome::kRetry);
  const CallOutcome rejected = classifyCall(R(Error::rejected("AccessDenied")));
  EXPECT_EQ(rejected.kind, CallOutcome::kFinal);
  EXPECT_EQ(rejected.error, "AccessDenied");
}

TEST(DeliveryPolicyTest, ADeadLetterCarriesWhoGaveUpIn01AndIn10Form) {
  const DeadLetterInfo info{"c3ViLTE", "orders", 11, "http 503 from http://f/"};
  auto v01 = deadLetterPayload(
      R"({"eventType":"e","cloudEventsVersion":"0.1","source":"/","eventID":"7",)"
      R"("extensions":{"eventgateway":{"transformed":"true"}},"data":{"a":1}})",
      info);
  ASSERT_TRUE(v01.ok());
  const json::value a = json::parse(*v01);
  EXPECT_EQ(a.at("eventID"), "7");
  EXPECT_EQ(a.at("data").at("a"), 1);
  EXPECT_EQ(a.at("extensions").at("eventgateway").at("transformed"), "true");
  const json::value& letter = a.at("extensions").at("eventgateway").at("deadLetter");
  EXPECT_EQ(letter.at("subscriptionId"), "c3ViLTE");
  EXPECT_EQ(letter.at("functionId"), "orders");
  EXPECT_EQ(letter.at("attempts"), 11);
  EXPECT_EQ(letter.at("error"), "http 503 from http://f/");

  auto bare = deadLetterPayload(R"({"eventType":"e","eventID":"8","data":null})", info);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(json::parse(*bare).at("extensions").at("eventgateway").at("deadLetter").at("attempts"),
            11);

  auto v10 = deadLetterPayload(
      R"({"specversion":"1.0","type":"e","source":"/","id":"9","data":{"b":2}})", info);
  ASSERT_TRUE(v10.ok());
  const json::value b = json::parse(*v10);
  EXPECT_EQ(b.at("deadlettersubscription"), "c3ViLTE");
  EXPECT_EQ(b.at("deadletterfunction"), "orders");
  EXPECT_EQ(b.at("deadletterattempts"), 11);
  EXPECT_EQ(b.at("deadlettererror"), "http 503 from http://f/");
  EXPECT_FALSE(b.as_object().contains("extensions"));

  EXPECT_FALSE(deadLetterPayload("not json", info).ok());
}

}  // namespace
}  // namespace eg::dispatch
