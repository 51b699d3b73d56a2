// Retries, dead letters and giving up (spec §5), on the dispatcher with a memory queue.
#include <atomic>
#include <chrono>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "dispatch/fixture.h"

namespace eg::dispatch {
namespace {

using namespace testing;
namespace json = boost::json;
using namespace std::chrono_literals;

// Fast retries, so that a test sees several within its bounds.
DispatchSettings quick(int retries = 10) {
  DispatchSettings s;
  s.delivery.retries = retries;
  s.delivery.backoffDelay = 5ms;
  s.delivery.maxBackoff = 20ms;
  return s;
}

providers::CallResult answer(unsigned status, std::optional<std::chrono::milliseconds> after = {}) {
  providers::CallResult r;
  r.status = status;
  r.retryAfter = after;
  return r;
}

std::string idOf(const std::string& payload) {
  return std::string(json::parse(payload).at("eventID").as_string());
}

class AsyncDeliveryTest : public DispatcherTest {
 protected:
  // Sends one event to `path` of type "e" and returns its ID.
  std::string accept() {
    auto res = send(emit("/", "e"));
    EXPECT_EQ(res.result_int(), 202u);
    return res.result_int() == 202 ? "" : "refused";
  }
};

TEST_F(AsyncDeliveryTest, AFunctionFailingNTimesGetsTheEventOnAttemptNPlusOneWithTheSameId) {
  std::atomic<int> calls{0};
  auto fn = snapshot_->addFunction("default", "f", [&](std::string_view) -> Result<providers::CallResult> {
    if (++calls <= 3) return Error::unavailable("http 503");
    return answer(200);
  });
  snapshot_->addAsync("default", "f", "POST", "/", "e");
  start(quick());
  accept();
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  ASSERT_EQ(fn->payloads().size(), 4u);
  for (const auto& p : fn->payloads()) EXPECT_EQ(idOf(p), idOf(fn->payloads()[0]));
  EXPECT_TRUE(metricHas("eventgateway_deliveries_retried_total{space=\"default\",type=\"e\"} 3\n"));
  EXPECT_TRUE(metricHas("eventgateway_events_processed_total{space=\"default\",type=\"e\"} 1\n"));
  EXPECT_FALSE(metricHas("eventgateway_deliveries_failed_total{space=\"default\""));
}

TEST_F(AsyncDeliveryTest, A4xxAnswerGoesToTheDeadLetterAtOnce) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) { return Result<providers::CallResult>(answer(404)); });
  auto dlq = snapshot_->addFunction("default", "dlq", [](std::string_view) { return ok("{}"); });
  auto& sub = snapshot_->addAsync("default", "f", "POST", "/", "e");
  sub.deliveryPolicy = model::DeliveryPolicy{};
  sub.deliveryPolicy->deadLetterFunctionId = "dlq";
  start(quick());
  accept();
  ASSERT_TRUE(runUntil([&] { return queued() == 0 && dlq->payloads().size() == 1; }));
  EXPECT_EQ(fn->payloads().size(), 1u);
  const json::value letter = json::parse(dlq->payloads()[0]);
  EXPECT_EQ(idOf(dlq->payloads()[0]), idOf(fn->payloads()[0]));
  const json::value& info = letter.at("extensions").at("eventgateway").at("deadLetter");
  EXPECT_EQ(info.at("functionId"), "f");
  EXPECT_EQ(info.at("subscriptionId").as_string(), sub.subscriptionId);
  EXPECT_EQ(info.at("attempts"), 1);
  EXPECT_EQ(info.at("error"), "the function answered http 404");
  EXPECT_TRUE(metricHas("eventgateway_deliveries_deadlettered_total{space=\"default\",type=\"e\"} 1\n"));
}

TEST_F(AsyncDeliveryTest, EveryAttemptAndTheDeadLetterForwardTheTraceContext) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) {
    return Result<providers::CallResult>(Error::unavailable("down"));
  });
  auto dlq = snapshot_->addFunction("default", "dlq", [](std::string_view) { return ok("{}"); });
  auto& sub = snapshot_->addAsync("default", "f", "POST", "/", "e");
  sub.deliveryPolicy = model::DeliveryPolicy{};
  sub.deliveryPolicy->deadLetterFunctionId = "dlq";
  start(quick(2));
  constexpr std::string_view kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto request = emit("/", "e");
  request.set("traceparent", kParent);
  EXPECT_EQ(send(std::move(request)).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0 && dlq->payloads().size() == 1; }));
  const std::string expected = std::string(kParent) + "|";
  EXPECT_EQ(fn->traces(), std::vector<std::string>(3, expected));
  EXPECT_EQ(dlq->traces(), std::vector<std::string>{expected});
}

TEST_F(AsyncDeliveryTest, ExhaustedRetriesGoToTheDeadLetterWithTheAttemptCount) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) {
    return Result<providers::CallResult>(Error::timeout("timed out calling http://f/"));
  });
  auto dlq = snapshot_->addFunction("default", "dlq", [](std::string_view) { return ok("{}"); });
  auto& sub = snapshot_->addAsync("default", "f", "POST", "/", "e");
  sub.deliveryPolicy = model::DeliveryPolicy{};
  sub.deliveryPolicy->retries = 2;
  sub.deliveryPolicy->deadLetterFunctionId = "dlq";
  start(quick());
  accept();
  ASSERT_TRUE(runUntil([&] { return queued() == 0 && dlq->payloads().size() == 1; }));
  EXPECT_EQ(fn->payloads().size(), 3u);
  const json::value info =
      json::parse(dlq->payloads()[0]).at("extensions").at("eventgateway").at("deadLetter");
  EXPECT_EQ(info.at("attempts"), 3);
  EXPECT_EQ(info.at("error"), "timed out calling http://f/");
}

TEST_F(AsyncDeliveryTest, WithoutADeadLetterAGivenUpDeliveryIsCountedAsFailed) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) {
    return Result<providers::CallResult>(Error::unavailable("down"));
  });
  snapshot_->addAsync("default", "f", "POST", "/", "e");
  start(quick(1));
  accept();
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_EQ(fn->payloads().size(), 2u);
  EXPECT_TRUE(metricHas("eventgateway_deliveries_failed_total{space=\"default\",type=\"e\"} 1\n"));
}

TEST_F(AsyncDeliveryTest, AnEventOlderThanMaxEventAgeIsGivenUp) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) {
    return Result<providers::CallResult>(Error::unavailable("down"));
  });
  auto dlq = snapshot_->addFunction("default", "dlq", [](std::string_view) { return ok("{}"); });
  auto& sub = snapshot_->addAsync("default", "f", "POST", "/", "e");
  sub.deliveryPolicy = model::DeliveryPolicy{};
  sub.deliveryPolicy->retries = 1000;
  sub.deliveryPolicy->maxEventAge = model::Duration{"60ms", 60ms};
  sub.deliveryPolicy->deadLetterFunctionId = "dlq";
  start(quick());
  accept();
  ASSERT_TRUE(runUntil([&] { return queued() == 0 && dlq->payloads().size() == 1; }));
  EXPECT_LT(fn->payloads().size(), 20u);
  const std::string error = std::string(json::parse(dlq->payloads()[0])
                                            .at("extensions").at("eventgateway")
                                            .at("deadLetter").at("error").as_string());
  EXPECT_NE(error.find("maxEventAge"), std::string::npos) << error;
}

TEST_F(AsyncDeliveryTest, DeadLettersAreRetriedButNeverDeadLetteredAgain) {
  snapshot_->addFunction("default", "f", [](std::string_view) { return Result<providers::CallResult>(answer(400)); });
  auto dlq = snapshot_->addFunction("default", "dlq", [](std::string_view) {
    return Result<providers::CallResult>(answer(500 - 100));  // a 4xx: final for the letter too
  });
  auto& sub = snapshot_->addAsync("default", "f", "POST", "/", "e");
  sub.deliveryPolicy = model::DeliveryPolicy{};
  sub.deliveryPolicy->deadLetterFunctionId = "dlq";
  start(quick());
  accept();
  ASSERT_TRUE(runUntil([&] { return queued() == 0 && dlq->payloads().size() == 1; }));
  settle();
  EXPECT_EQ(dlq->payloads().size(), 1u);
  EXPECT_TRUE(metricHas("eventgateway_deliveries_failed_total{space=\"default\",type=\"e\"} 1\n"));
}

TEST_F(AsyncDeliveryTest, ARetryAfterIsHonoured) {
  std::vector<std::chrono::steady_clock::time_point> at;
  auto fn = snapshot_->addFunction("default", "f", [&](std::string_view) -> Result<providers::CallResult> {
    at.push_back(std::chrono::steady_clock::now());
    if (at.size() == 1) return answer(429, 150ms);
    return answer(200);
  });
  snapshot_->addAsync("default", "f", "POST", "/", "e");
  DispatchSettings s = quick();
  s.delivery.maxBackoff = 1000ms;
  start(s);
  accept();
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  ASSERT_EQ(at.size(), 2u);
  EXPECT_GE(at[1] - at[0], 140ms);
}

TEST_F(AsyncDeliveryTest, ADeletedSubscriptionsDeliveriesAreDropped) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) {
    return Result<providers::CallResult>(Error::unavailable("down"));
  });
  auto& sub = snapshot_->addAsync("default", "f", "POST", "/", "e");
  start(quick(1000));
  accept();
  ASSERT_TRUE(runUntil([&] { return fn->payloads().size() >= 2; }));
  snapshot_->removeSubscription("default", sub.subscriptionId);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_FALSE(metricHas("eventgateway_deliveries_failed_total{space=\"default\""));
}

TEST_F(AsyncDeliveryTest, ADeliveryWaitsForAConfigurationThatKnowsItsSubscription) {
  // Routed on revision 10; attempted while this instance still has revision 9, which
  // does not know the subscription yet (a change made on another instance).
  auto configuration = [](int64_t revision, bool subscribed, std::shared_ptr<FakeInvoker>* fn) {
    auto snapshot = std::make_shared<FakeSnapshot>();
    auto invoker = snapshot->addFunction("default", "f", [](std::string_view) { return ok("{}"); });
    invoker->setDelay(150ms);
    if (subscribed) snapshot->addAsync("default", "f", "POST", "/", "e");
    snapshot->setRevision(revision);
    if (fn) *fn = invoker;
    return snapshot;
  };
  std::shared_ptr<FakeInvoker> first, later;
  snapshot_ = configuration(10, true, &first);
  DispatchSettings one = quick();
  one.workers = 1;
  start(one, 10);
  accept();  // in flight for 150 ms: the only worker is busy
  accept();  // waits for the worker
  snapshot_ = configuration(9, false, nullptr);
  ASSERT_TRUE(runUntil([&] { return first->payloads().size() == 1; }));
  for (int i = 0; i < 30; ++i) ioc_.run_one_for(10ms);
  EXPECT_EQ(queued(), 1u) << "the delivery waits instead of being dropped";
  snapshot_ = configuration(11, true, &later);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_EQ(later->payloads().size(), 1u);
}

TEST_F(AsyncDeliveryTest, AnAuthorizerRefusalIsFinalAndItsFailedCallIsRetried) {
  std::atomic<int> authorizerCalls{0};
  snapshot_->addFunction("default", "auth", [&](std::string_view) -> Result<providers::CallResult> {
    if (++authorizerCalls == 1) return Error::unavailable("authorizer down");
    return ok(R"({"error":{"message":"no"}})");
  });
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) { return ok("{}"); });
  snapshot_->addEventType("default", "e", "auth");
  snapshot_->addAsync("default", "f", "POST", "/", "e");
  start(quick());
  accept();
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_EQ(authorizerCalls.load(), 2);
  EXPECT_TRUE(fn->payloads().empty());
  EXPECT_TRUE(metricHas("eventgateway_events_unauthorized_total{space=\"default\",type=\"e\"} 1\n"));
  EXPECT_TRUE(metricHas("eventgateway_deliveries_retried_total{space=\"default\",type=\"e\"} 1\n"));
}

}  // namespace
}  // namespace eg::dispatch
