#include "observe/tail.h"

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace eg::observe {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

Observation delivered(std::string_view space, std::string_view function = "f",
                      std::string_view type = "t") {
  Observation o;
  o.outcome = Outcome::kDelivered;
  o.space = space;
  o.eventType = type;
  o.eventId = "id-1";
  o.functionId = function;
  o.httpStatus = 200;
  o.attempt = 1;
  o.latency = 1500us;
  return o;
}

// A hub that never limits the rate, unless a test says otherwise.
TailSettings unlimited(std::size_t ring = 16) {
  TailSettings s;
  s.ringSize = ring;
  s.rate = 1e9;
  s.burst = 1e9;
  return s;
}

std::unique_ptr<TailSubscription> open(TailHub& hub, std::string space = "s",
                                       TailFilter filter = {}) {
  auto t = hub.subscribe(std::move(space), std::move(filter));
  EXPECT_TRUE(t.ok());
  return t ? std::move(t).value() : nullptr;
}

bool has(const metrics::Registry& registry, const std::string& text) {
  return registry.render().find(text) != std::string::npos;
}

TEST(TailHubTest, InactiveUntilATailOpensAndAgainWhenItCloses) {
  metrics::Registry registry;
  TailHub hub(registry, unlimited());
  EXPECT_FALSE(hub.active());
  auto t = open(hub);
  EXPECT_TRUE(hub.active());
  EXPECT_TRUE(has(registry, "eventgateway_tails 1\n"));
  t.reset();
  EXPECT_FALSE(hub.active());
  EXPECT_TRUE(has(registry, "eventgateway_tails 0\n"));
}

TEST(TailHubTest, ATailGetsItsSpacesObservationsInOrderWithGrowingIds) {
  metrics::Registry registry;
  TailHub hub(registry, unlimited());
  auto t = open(hub);
  Observation received;
  received.outcome = Outcome::kReceived;
  received.space = "s";
  received.eventType = "t";
  received.eventId = "id-1";
  hub.publish(received);
  hub.publish(delivered("other"));
  hub.publish(delivered("s"));
  TailBatch batch;
  t->drain(batch);
  ASSERT_EQ(batch.samples.size(), 2u);
  EXPECT_EQ(batch.samples[0].outcome, Outcome::kReceived);
  EXPECT_EQ(batch.samples[1].outcome, Outcome::kDelivered);
  EXPECT_EQ(batch.samples[0].id, 1u);
  EXPECT_EQ(batch.samples[1].id, 2u);
  EXPECT_EQ(batch.skippedRate + batch.skippedSlow, 0u);
  t->drain(batch);
  EXPECT_TRUE(batch.samples.empty());
}

TEST(TailHubTest, FiltersByTypeAndFunctionAndReceivedByItsFunctions) {
  metrics::Registry registry;
  TailHub hub(registry, unlimited());
  auto byType = open(hub, "s", {"a", ""});
  auto byFunction = open(hub, "s", {"", "g"});
  hub.publish(delivered("s", "f", "a"));
  hub.publish(delivered("s", "g", "b"));
  Observation received;
  received.outcome = Outcome::kReceived;
  received.space = "s";
  received.eventType = "b";
  const std::string_view functions[] = {"f", "g"};
  received.functions = functions;
  hub.publish(received);
  TailBatch batch;
  byType->drain(batch);
  ASSERT_EQ(batch.samples.size(), 1u);
  EXPECT_NE(batch.samples[0].data->find("\"functionId\":\"f\""), std::string::npos);
  byFunction->drain(batch);
  ASSERT_EQ(batch.samples.size(), 2u);
  EXPECT_EQ(batch.samples[0].outcome, Outcome::kDelivered);
  EXPECT_EQ(batch.samples[1].outcome, Outcome::kReceived);
}

TEST(TailHubTest, ASlowClientLosesTheOldestSamplesCounted) {
  metrics::Registry registry;
  TailHub hub(registry, unlimited(4));
  auto t = open(hub);
  for (int i = 0; i < 10; ++i) hub.publish(delivered("s"));
  TailBatch batch;
  t->drain(batch);
  ASSERT_EQ(batch.samples.size(), 4u);
  // The newest four, with the ids they were given.
  EXPECT_EQ(batch.samples.front().id, 7u);
  EXPECT_EQ(batch.samples.back().id, 10u);
  EXPECT_EQ(batch.skippedSlow, 6u);
  EXPECT_EQ(batch.skippedRate, 0u);
  EXPECT_TRUE(has(registry, "eventgateway_tail_skipped_total{reason=\"slow\"} 6\n"));
  // Reported once.
  hub.publish(delivered("s"));
  t->drain(batch);
  EXPECT_EQ(batch.samples.size(), 1u);
  EXPECT_EQ(batch.skippedSlow, 0u);
}

TEST(TailHubTest, AboveItsRateATailSkipsObservationsCounted) {
  metrics::Registry registry;
  TailSettings settings;
  settings.rate = 1;  // one a second, after a burst of 3
  settings.burst = 3;
  TailHub hub(registry, settings);
  auto t = open(hub);
  for (int i = 0; i < 10; ++i) hub.publish(delivered("s"));
  TailBatch batch;
  t->drain(batch);
  EXPECT_EQ(batch.samples.size(), 3u);
  EXPECT_EQ(batch.skippedRate, 7u);
  EXPECT_TRUE(has(registry, "eventgateway_tail_skipped_total{reason=\"rate\"} 7\n"));
  // Tokens come back with time.
  std::this_thread::sleep_for(1100ms);
  hub.publish(delivered("s"));
  t->drain(batch);
  EXPECT_EQ(batch.samples.size(), 1u);
}

TEST(TailHubTest, EachTailHasItsOwnRateAndRing) {
  metrics::Registry registry;
  TailSettings settings = unlimited(2);
  TailHub hub(registry, settings);
  auto slow = open(hub);
  auto fast = open(hub);
  TailBatch batch;
  for (int i = 0; i < 5; ++i) {
    hub.publish(delivered("s"));
    fast->drain(batch);
    EXPECT_EQ(batch.samples.size(), 1u);
    EXPECT_EQ(batch.skippedSlow, 0u);
  }
  slow->drain(batch);
  EXPECT_EQ(batch.samples.size(), 2u);
  EXPECT_EQ(batch.skippedSlow, 3u);
}

TEST(TailHubTest, AtMostMaxTailsAndNoneOnceClosed) {
  metrics::Registry registry;
  TailSettings settings;
  settings.maxTails = 2;
  TailHub hub(registry, settings);
  auto a = open(hub);
  auto b = open(hub, "other");
  auto refused = hub.subscribe("s", {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  b.reset();
  auto c = open(hub);
  ASSERT_NE(c, nullptr);

  hub.close();
  TailBatch batch;
  a->drain(batch);
  EXPECT_TRUE(batch.closed);
  EXPECT_FALSE(hub.subscribe("s", {}).ok());
}

TEST(TailHubTest, ASubscriptionMayOutliveItsHub) {
  metrics::Registry registry;
  std::unique_ptr<TailSubscription> t;
  {
    TailHub hub(registry);
    t = open(hub);
  }
  TailBatch batch;
  t->drain(batch);
  EXPECT_TRUE(batch.closed);
  t.reset();
}

TEST(TailHubTest, PublishersAndTailsComingAndGoingRaceFree) {
  metrics::Registry registry;
  TailHub hub(registry, unlimited(64));
  std::atomic<bool> stop{false};
  std::vector<std::thread> publishers;
  for (int p = 0; p < 3; ++p) {
    publishers.emplace_back([&] {
      while (!stop.load()) hub.publish(delivered("s"));
    });
  }
  uint64_t seen = 0;
  for (int round = 0; round < 100; ++round) {
    auto t = open(hub);
    TailBatch batch;
    uint64_t last = 0;
    // Open for a moment each: long enough for the publishers to find it.
    const auto until = std::chrono::steady_clock::now() + 2ms;
    while (std::chrono::steady_clock::now() < until) {
      t->drain(batch);
      for (const auto& s : batch.samples) {
        EXPECT_GT(s.id, last);
        last = s.id;
        ++seen;
      }
    }
  }
  stop = true;
  for (auto& th : publishers) th.join();
  EXPECT_GT(seen, 0u);
  EXPECT_FALSE(hub.active());
}

TEST(SampleJsonTest, HasTheFieldsOfItsOutcome) {
  Observation o = delivered("s");
  o.subscriptionId = "sub";
  const auto at = std::chrono::system_clock::time_point(std::chrono::milliseconds(1700000000123));
  const json::object v = json::parse(sampleJson(o, at)).as_object();
  EXPECT_EQ(v.at("outcome"), "delivered");
  EXPECT_EQ(v.at("space"), "s");
  EXPECT_EQ(v.at("eventId"), "id-1");
  EXPECT_EQ(v.at("eventType"), "t");
  EXPECT_EQ(v.at("functionId"), "f");
  EXPECT_EQ(v.at("subscriptionId"), "sub");
  EXPECT_EQ(v.at("status"), 200);
  EXPECT_EQ(v.at("attempt"), 1);
  EXPECT_DOUBLE_EQ(v.at("latencyMs").as_double(), 1.5);
  EXPECT_EQ(v.at("time"), "2023-11-14T22:13:20.123Z");
  EXPECT_FALSE(v.contains("functions"));
  EXPECT_FALSE(v.contains("error"));

  Observation failed = delivered("s");
  failed.outcome = Outcome::kFailed;
  failed.httpStatus = 0;
  failed.errorKind = "timeout";
  failed.error = "timed out";
  const json::object f = json::parse(sampleJson(failed, at)).as_object();
  EXPECT_EQ(f.at("status"), "timeout");
  EXPECT_EQ(f.at("error"), "timed out");
}

TEST(SampleJsonTest, ReadsTheIdFromTheEventAndBoundsLongFields) {
  Observation o = delivered("s");
  o.eventId = {};
  const std::string longType(1000, 'x');
  o.eventType = longType;
  o.eventJson = R"({"specversion":"1.0","data":{"id":"inner"},"id":"outer-1","type":"t"})";
  const json::object v =
      json::parse(sampleJson(o, std::chrono::system_clock::now())).as_object();
  EXPECT_EQ(v.at("eventId"), "outer-1");
  EXPECT_EQ(v.at("eventType").as_string().size(), 256u);
}

TEST(EventIdTest, StopsAtTheIdAndIgnoresNestedOnes) {
  EXPECT_EQ(eventIdOf(R"({"eventType":"t","eventID":"a\"b","data":{"eventID":"no"}})"), "a\"b");
  EXPECT_EQ(eventIdOf(R"({"data":{"id":"no"},"id":"yes"})"), "yes");
  EXPECT_EQ(eventIdOf(R"({"id":7})"), "");
  EXPECT_EQ(eventIdOf("not json"), "");
  // What follows the ID is not read: broken JSON there does not matter.
  EXPECT_EQ(eventIdOf(R"({"eventID":"first","data":{)"), "first");
}

}  // namespace
}  // namespace eg::observe
