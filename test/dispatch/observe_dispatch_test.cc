// What dispatch reports (observe/): the tail's observations, in order, and the
// per-function metrics, on the sync path and through retries and dead letters.
#include <chrono>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "dispatch/fixture.h"

namespace eg::dispatch {
namespace {

using namespace testing;
namespace json = boost::json;
using namespace std::chrono_literals;

struct Seen {
  std::string outcome;
  json::object data;
  uint64_t id;
};

class ObserveDispatchTest : public DispatcherTest {
 protected:
  std::unique_ptr<observe::TailSubscription> tail(std::string space = "default",
                                                  observe::TailFilter filter = {}) {
    auto t = observer_.tails().subscribe(std::move(space), std::move(filter));
    EXPECT_TRUE(t.ok());
    return t ? std::move(t).value() : nullptr;
  }

  // Everything the tail holds now, appended to `seen`.
  static void take(observe::TailSubscription& t, std::vector<Seen>& seen) {
    observe::TailBatch batch;
    t.drain(batch);
    for (const auto& s : batch.samples) {
      seen.push_back({std::string(observe::outcomeName(s.outcome)),
                      json::parse(*s.data).as_object(), s.id});
    }
  }

  static std::vector<std::string> outcomes(const std::vector<Seen>& seen) {
    std::vector<std::string> out;
    for (const auto& s : seen) out.push_back(s.outcome);
    return out;
  }
};

TEST_F(ObserveDispatchTest, ASyncCallIsReceivedThenDeliveredAndCounted) {
  snapshot_->addFunction("default", "f", [](std::string_view) {
    return ok(R"({"statusCode":200,"body":"hi"})");
  });
  snapshot_->addSync("default", "f", "GET", "/x", "http.request");
  start();
  auto t = tail();
  auto res = send(makeRequest(http::verb::get, "/x"));
  ASSERT_EQ(res.result_int(), 200u);

  std::vector<Seen> seen;
  take(*t, seen);
  ASSERT_EQ(outcomes(seen), (std::vector<std::string>{"received", "delivered"}));
  EXPECT_LT(seen[0].id, seen[1].id);
  const auto& received = seen[0].data;
  EXPECT_EQ(received.at("space"), "default");
  EXPECT_EQ(received.at("eventType"), "http.request");
  EXPECT_EQ(received.at("functions"), json::array{"f"});
  EXPECT_FALSE(received.at("eventId").as_string().empty());
  const auto& delivered = seen[1].data;
  EXPECT_EQ(delivered.at("eventId"), received.at("eventId"));
  EXPECT_EQ(delivered.at("functionId"), "f");
  EXPECT_EQ(delivered.at("status"), 200);
  EXPECT_EQ(delivered.at("attempt"), 1);
  EXPECT_TRUE(delivered.at("latencyMs").is_double());

  EXPECT_TRUE(metricHas("eventgateway_function_calls_total{space=\"default\",function=\"f\","
                        "outcome=\"delivered\"} 1\n"));
  EXPECT_TRUE(metricHas("eventgateway_function_calls_total{space=\"default\",function=\"f\","
                        "outcome=\"failed\"} 0\n"));
  EXPECT_TRUE(metricHas(
      "eventgateway_function_duration_seconds_count{space=\"default\",function=\"f\"} 1\n"));
}

TEST_F(ObserveDispatchTest, AFailedSyncCallIsFailedWithTheErrorKind) {
  snapshot_->addFunction("default", "f", [](std::string_view) -> Result<providers::CallResult> {
    return Error::timeout("function call failed: timed out");
  });
  snapshot_->addSync("default", "f", "GET", "/x", "http.request");
  start();
  auto t = tail();
  EXPECT_EQ(send(makeRequest(http::verb::get, "/x")).result_int(), 500u);
  std::vector<Seen> seen;
  take(*t, seen);
  ASSERT_EQ(outcomes(seen), (std::vector<std::string>{"received", "failed"}));
  EXPECT_EQ(seen[1].data.at("status"), "timeout");
  EXPECT_EQ(seen[1].data.at("error"), "function call failed: timed out");
  EXPECT_TRUE(metricHas("eventgateway_function_calls_total{space=\"default\",function=\"f\","
                        "outcome=\"failed\"} 1\n"));
}

TEST_F(ObserveDispatchTest, RetriesThenADeadLetterAreEachObservedAndCounted) {
  snapshot_->addFunction("default", "f", [](std::string_view) -> Result<providers::CallResult> {
    Error e = Error::unavailable("function call failed: http 503 from http://f/");
    e.httpStatus = 503;
    return e;
  });
  snapshot_->addFunction("default", "dlq", [](std::string_view) { return ok("{}"); });
  auto& sub = snapshot_->addAsync("default", "f", "POST", "/", "e");
  sub.deliveryPolicy = model::DeliveryPolicy{};
  sub.deliveryPolicy->retries = 2;
  sub.deliveryPolicy->deadLetterFunctionId = "dlq";
  DispatchSettings settings;
  settings.delivery.backoffDelay = 1ms;
  settings.delivery.maxBackoff = 2ms;
  start(settings);
  auto t = tail();
  ASSERT_EQ(send(emit("/", "e")).result_int(), 202u);
  std::vector<Seen> seen;
  ASSERT_TRUE(runUntil([&] {
    take(*t, seen);
    return seen.size() >= 5;
  }));
  ASSERT_EQ(outcomes(seen), (std::vector<std::string>{"received", "retrying", "retrying",
                                                      "deadlettered", "delivered"}));
  const auto id = seen[0].data.at("eventId");
  for (std::size_t i = 1; i < seen.size(); ++i) {
    EXPECT_EQ(seen[i].data.at("eventId"), id) << i;
    EXPECT_LT(seen[i - 1].id, seen[i].id);
  }
  EXPECT_EQ(seen[1].data.at("attempt"), 1);
  EXPECT_EQ(seen[1].data.at("status"), 503);
  EXPECT_EQ(seen[1].data.at("subscriptionId").as_string(), sub.subscriptionId);
  EXPECT_EQ(seen[3].data.at("attempt"), 3);
  EXPECT_EQ(seen[3].data.at("functionId"), "f");
  EXPECT_EQ(seen[4].data.at("functionId"), "dlq");
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_TRUE(metricHas("eventgateway_function_calls_total{space=\"default\",function=\"f\","
                        "outcome=\"retrying\"} 2\n"));
  EXPECT_TRUE(metricHas("eventgateway_function_calls_total{space=\"default\",function=\"f\","
                        "outcome=\"deadlettered\"} 1\n"));
  EXPECT_TRUE(metricHas("eventgateway_function_calls_total{space=\"default\",function=\"dlq\","
                        "outcome=\"delivered\"} 1\n"));
  EXPECT_TRUE(metricHas(
      "eventgateway_function_duration_seconds_count{space=\"default\",function=\"f\"} 3\n"));
}

TEST_F(ObserveDispatchTest, AGivenUpDeliveryWithoutADeadLetterIsFailed) {
  snapshot_->addFunction("default", "f", [](std::string_view) {
    providers::CallResult r;
    r.status = 400;
    return Result<providers::CallResult>(r);
  });
  snapshot_->addAsync("default", "f", "POST", "/", "e");
  start();
  auto t = tail();
  ASSERT_EQ(send(emit("/", "e")).result_int(), 202u);
  std::vector<Seen> seen;
  ASSERT_TRUE(runUntil([&] {
    take(*t, seen);
    return seen.size() >= 2;
  }));
  ASSERT_EQ(outcomes(seen), (std::vector<std::string>{"received", "failed"}));
  EXPECT_EQ(seen[1].data.at("status"), 400);
  EXPECT_EQ(seen[1].data.at("error"), "the function answered http 400");
  EXPECT_TRUE(metricHas("eventgateway_function_calls_total{space=\"default\",function=\"f\","
                        "outcome=\"failed\"} 1\n"));
}

TEST_F(ObserveDispatchTest, AnExpiredEventIsGivenUpWithoutACallAndNotCounted) {
  snapshot_->addFunction("default", "f", [](std::string_view) { return ok("{}"); });
  auto& sub = snapshot_->addAsync("default", "f", "POST", "/", "e");
  sub.deliveryPolicy = model::DeliveryPolicy{};
  sub.deliveryPolicy->maxEventAge = model::Duration{"1s", 1s};
  start();
  auto t = tail();
  // An event queued a minute ago (as after a long outage).
  auto event = std::make_shared<queue::EventData>();
  event->payload = R"({"eventType":"e","cloudEventsVersion":"0.1","source":"/t","eventID":"old-1","data":{}})";
  event->acceptedAtMs = queue::nowMs() - 60'000;
  queue::EnqueueRequest request;
  request.event = event;
  request.targets.push_back(queue::Target{"default", sub.subscriptionId, "f", "e", 0});
  queue_->enqueue(std::move(request), [](Status) {});
  std::vector<Seen> seen;
  ASSERT_TRUE(runUntil([&] {
    take(*t, seen);
    return !seen.empty();
  }));
  ASSERT_EQ(outcomes(seen), (std::vector<std::string>{"failed"}));
  EXPECT_EQ(seen[0].data.at("status"), "expired");
  EXPECT_EQ(seen[0].data.at("eventId"), "old-1");
  EXPECT_EQ(seen[0].data.at("attempt"), 0);
  EXPECT_FALSE(metricHas("eventgateway_function_calls_total{space=\"default\",function=\"f\""));
}

TEST_F(ObserveDispatchTest, TailsSeeOnlyTheirSpaceAndFilters) {
  snapshot_->addFunction("default", "f", [](std::string_view) { return ok("{}"); });
  snapshot_->addFunction("default", "g", [](std::string_view) { return ok("{}"); });
  snapshot_->addFunction("other", "h", [](std::string_view) { return ok("{}"); });
  snapshot_->addAsync("default", "f", "POST", "/", "e");
  snapshot_->addAsync("default", "g", "POST", "/", "e");
  snapshot_->addAsync("other", "h", "POST", "/", "e");
  snapshot_->addAsync("default", "f", "POST", "/", "other.type");
  start();
  auto all = tail();
  auto onlyG = tail("default", {"", "g"});
  auto onlyOther = tail("default", {"other.type", ""});
  auto otherSpace = tail("other");
  ASSERT_EQ(send(emit("/", "e")).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  std::vector<Seen> seen, g, type, space;
  take(*all, seen);
  take(*onlyG, g);
  take(*onlyOther, type);
  take(*otherSpace, space);
  EXPECT_EQ(outcomes(seen), (std::vector<std::string>{"received", "delivered", "delivered"}));
  EXPECT_EQ(seen[0].data.at("functions"), (json::array{"f", "g"}));
  ASSERT_EQ(outcomes(g), (std::vector<std::string>{"received", "delivered"}));
  EXPECT_EQ(g[1].data.at("functionId"), "g");
  EXPECT_TRUE(type.empty());
  ASSERT_EQ(outcomes(space), (std::vector<std::string>{"received", "delivered"}));
  EXPECT_EQ(space[1].data.at("functionId"), "h");
}

}  // namespace
}  // namespace eg::dispatch
