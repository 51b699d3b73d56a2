// Weighted functions (spec §3.10) at every kind of call: the dispatcher resolves the
// weighted function to one target right before each call.
#include <map>
#include <set>
#include <string>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "dispatch/fixture.h"
#include "dispatch/sticky_key.h"

namespace eg::dispatch {
namespace {

using namespace testing;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

providers::StickyBy header(std::string name) {
  return providers::StickyBy{providers::StickyBy::Kind::kHeader, std::move(name)};
}
providers::StickyBy attribute(std::string name) {
  return providers::StickyBy{providers::StickyBy::Kind::kAttribute, std::move(name)};
}

// Functions "a" and "b" answering a sync result that names them.
class WeightedDispatchTest : public DispatcherTest {
 protected:
  void addTargets(const std::string& space = "default") {
    a_ = snapshot_->addFunction(space, "a", [](std::string_view) { return ok(R"({"body":"a"})"); });
    b_ = snapshot_->addFunction(space, "b", [](std::string_view) { return ok(R"({"body":"b"})"); });
  }
  net::Request get(std::string path, Headers headers = {}) {
    return makeRequest(http::verb::get, std::move(path), std::move(headers));
  }

  std::shared_ptr<FakeInvoker> a_;
  std::shared_ptr<FakeInvoker> b_;
};

TEST_F(WeightedDispatchTest, ASyncCallReachesATargetAndTheSystemEventsNameIt) {
  addTargets();
  auto w = snapshot_->addWeighted("default", "w", {{"a", 0}, {"b", 1}});
  auto watch = snapshot_->addFunction("default", "watch", [](std::string_view) { return ok(""); });
  snapshot_->addSync("default", "w", "GET", "/w", "http.request");
  snapshot_->addAsync("default", "watch", "POST", "/", "eventgateway.function.invoked");
  snapshot_->addAsync("default", "watch", "POST", "/", "eventgateway.function.invoking");
  start();
  for (int i = 0; i < 20; ++i) EXPECT_EQ(send(get("/w")).body(), "b");
  EXPECT_EQ(b_->payloads().size(), 20u);
  EXPECT_TRUE(a_->payloads().empty());
  EXPECT_TRUE(w->payloads().empty());
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  ASSERT_EQ(watch->payloads().size(), 40u);
  for (const auto& p : watch->payloads()) {
    EXPECT_EQ(json::parse(p).at("data").at("functionId"), "b");
  }
}

TEST_F(WeightedDispatchTest, RandomCallsSpreadOverTheTargets) {
  addTargets();
  snapshot_->addWeighted("default", "w", {{"a", 1}, {"b", 1}});
  snapshot_->addSync("default", "w", "GET", "/w", "http.request");
  start();
  std::map<std::string, int> seen;
  for (int i = 0; i < 200; ++i) ++seen[send(get("/w")).body()];
  EXPECT_GT(seen["a"], 50);
  EXPECT_GT(seen["b"], 50);
}

TEST_F(WeightedDispatchTest, StickyByHeaderSendsEachKeyToOneTarget) {
  addTargets();
  snapshot_->addWeighted("default", "w", {{"a", 1}, {"b", 1}}, header("X-User"));
  snapshot_->addSync("default", "w", "GET", "/w", "http.request");
  start();
  std::set<std::string> targets;
  for (int user = 0; user < 20; ++user) {
    const std::string key = "user-" + std::to_string(user);
    const std::string first = send(get("/w", {{"x-user", key}})).body();
    for (int i = 0; i < 5; ++i) EXPECT_EQ(send(get("/w", {{"X-User", key}})).body(), first) << key;
    targets.insert(first);
  }
  EXPECT_EQ(targets, (std::set<std::string>{"a", "b"}));
}

TEST_F(WeightedDispatchTest, AsyncDeliveriesReadTheStickyHeaderFromTheKeptRequest) {
  addTargets();
  snapshot_->addWeighted("default", "w", {{"a", 1}, {"b", 1}}, header("X-User"));
  snapshot_->addSync("default", "w", "GET", "/w", "http.request");
  snapshot_->addAsync("default", "w", "POST", "/orders", "order.placed");
  start();
  for (int user = 0; user < 10; ++user) {
    const std::string key = "user-" + std::to_string(user);
    const std::size_t before = a_->payloads().size() + b_->payloads().size();
    const std::size_t beforeA = a_->payloads().size();
    for (int i = 0; i < 4; ++i) {
      auto req = makeRequest(http::verb::post, "/orders",
                             {{"Event", "order.placed"}, {"X-User", key},
                              {"Content-Type", "application/json"}},
                             "{}");
      EXPECT_EQ(send(std::move(req)).result_int(), 202u);
    }
    ASSERT_TRUE(runUntil([&] { return a_->payloads().size() + b_->payloads().size() == before + 4; }));
    const std::size_t toA = a_->payloads().size() - beforeA;
    // All four at one target, the same one a sync call with that key reaches.
    EXPECT_TRUE(toA == 0 || toA == 4) << key << ": " << toA << " of 4 at a";
    EXPECT_EQ(send(get("/w", {{"X-User", key}})).body(), toA == 4 ? "a" : "b") << key;
  }
}

TEST_F(WeightedDispatchTest, StickyByAnAttributeOfTheEvent) {
  addTargets();
  snapshot_->addWeighted("default", "w", {{"a", 1}, {"b", 1}}, attribute("userid"));
  snapshot_->addAsync("default", "w", "POST", "/", "user.moved");
  start();
  std::set<std::string> all;
  for (int user = 0; user < 12; ++user) {
    const std::size_t beforeA = a_->payloads().size();
    const std::size_t before = beforeA + b_->payloads().size();
    for (int i = 0; i < 3; ++i) {
      const std::string event =
          R"({"eventType":"user.moved","cloudEventsVersion":"0.1","source":"/t","eventID":"e-)" +
          std::to_string(user * 10 + i) + R"(","extensions":{"userid":"u)" + std::to_string(user) +
          R"("},"data":{}})";
      auto req = makeRequest(http::verb::post, "/",
                             {{"Content-Type", "application/cloudevents+json"}}, event);
      EXPECT_EQ(send(std::move(req)).result_int(), 202u);
    }
    ASSERT_TRUE(runUntil([&] { return a_->payloads().size() + b_->payloads().size() == before + 3; }));
    const std::size_t toA = a_->payloads().size() - beforeA;
    EXPECT_TRUE(toA == 0 || toA == 3) << "user " << user << ": " << toA << " of 3 at a";
    all.insert(toA == 3 ? "a" : "b");
  }
  EXPECT_EQ(all, (std::set<std::string>{"a", "b"}));
}

TEST_F(WeightedDispatchTest, Gen1InvokeOfAWeightedFunction) {
  addTargets();
  snapshot_->addWeighted("default", "w", {{"a", 1}, {"b", 0}});
  snapshot_->addInvoke("default", "w", "/");
  start();
  auto res = send(makeRequest(http::verb::post, "/", {{"Event", "invoke"}, {"Function-ID", "w"}}, "x"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), R"({"body":"a"})");
  EXPECT_EQ(a_->payloads().size(), 1u);
}

TEST_F(WeightedDispatchTest, AWeightedAuthorizerCallsItsTarget) {
  addTargets();
  auto allow = snapshot_->addFunction("default", "allow", [](std::string_view) {
    return ok(R"({"authorization":{"principalId":"p"}})");
  });
  auto deny = snapshot_->addFunction("default", "deny", [](std::string_view) {
    return ok(R"({"error":{"message":"no"}})");
  });
  snapshot_->addWeighted("default", "auth", {{"allow", 0}, {"deny", 1}});
  snapshot_->addEventType("default", "http.request", "auth");
  snapshot_->addSync("default", "a", "GET", "/secure", "http.request");
  snapshot_->addEventType("default", "order.placed", "auth");
  snapshot_->addAsync("default", "b", "POST", "/orders", "order.placed");
  start();
  auto res = send(get("/secure"));
  EXPECT_EQ(res.result_int(), 403u);
  EXPECT_EQ(errorMessage(res), "no");
  EXPECT_EQ(deny->payloads().size(), 1u);
  EXPECT_TRUE(allow->payloads().empty());
  EXPECT_TRUE(a_->payloads().empty());
  // Async: the authorizer runs in the delivery and refuses it.
  EXPECT_EQ(send(emit("/orders", "order.placed")).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_EQ(deny->payloads().size(), 2u);
  EXPECT_TRUE(b_->payloads().empty());
}

TEST_F(WeightedDispatchTest, EachAsyncAttemptPicksAgain) {
  // a fails every call: a delivery retried until it lands on b.
  snapshot_->addFunction("default", "a", [](std::string_view) -> Result<providers::CallResult> {
    return Error::unavailable("down");
  });
  auto b = snapshot_->addFunction("default", "b", [](std::string_view) { return ok(""); });
  snapshot_->addWeighted("default", "w", {{"a", 1}, {"b", 1}});
  snapshot_->addAsync("default", "w", "POST", "/", "e");
  DispatchSettings settings;
  settings.delivery.retries = 200;
  settings.delivery.backoffDelay = 1ms;
  settings.delivery.maxBackoff = 1ms;
  start(settings);
  EXPECT_EQ(send(emit("/", "e")).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return b->payloads().size() == 1; }, 5000ms));
}

TEST_F(WeightedDispatchTest, NoCallableTargetFailsTheCall) {
  snapshot_->addFunction("default", "a", [](std::string_view) { return ok(R"({"body":"a"})"); });
  auto w = snapshot_->addWeighted("default", "w", {{"a", 0}});
  snapshot_->addSync("default", "w", "GET", "/w", "http.request");
  start();
  auto res = send(get("/w"));
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(errorMessage(res), "Function call failed. Please check logs.");
  EXPECT_EQ(w->payloads().size(), 1u);
}

// --- where the sticky key comes from ---

TEST(CallKeyTest, ARequestHeaderCaseInsensitivelyAndRepeatedOnesJoined) {
  net::Request req = makeRequest(http::verb::get, "/", {{"x-user", "alice"}});
  req.insert("X-Team", "red");
  req.insert("x-team", "blue");
  const CallKey key(req, "{}");
  EXPECT_EQ(key.value(header("X-User")), "alice");
  EXPECT_EQ(key.value(header("X-Team")), "red, blue");
  EXPECT_EQ(key.value(header("X-None")), std::nullopt);
}

TEST(CallKeyTest, AQueuedDeliveryReadsTheKeptRequest) {
  const CallKey key("{}", R"({"path":"/","headers":{"X-User":"alice","Accept":"*/*"}})");
  EXPECT_EQ(key.value(header("x-user")), "alice");
  EXPECT_EQ(key.value(header("X-Other")), std::nullopt);
  const CallKey none("{}", "");
  EXPECT_EQ(none.value(header("X-User")), std::nullopt);
}

TEST(CallKeyTest, AnAttributeOfTheEvent) {
  const CallKey key(R"({"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"s-1"})", "");
  EXPECT_EQ(key.value(attribute("subject")), "s-1");
  EXPECT_EQ(key.value(attribute("userid")), std::nullopt);
}

}  // namespace
}  // namespace eg::dispatch
