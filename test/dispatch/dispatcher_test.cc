#include "dispatch/dispatcher.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "dispatch/fixture.h"

namespace eg::dispatch {
namespace {

using namespace testing;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

// --- sync subscriptions (§3.3) ---

TEST_F(DispatcherTest, SyncHttpRequestAnswersFromTheFunctionResult) {
  auto fn = snapshot_->addFunction("default", "users", [](std::string_view) {
    return ok(R"({"statusCode":201,"headers":{"X-Custom":"yes"},"body":"created"})");
  });
  snapshot_->addSync("default", "users", "POST", "/users/42", "http.request",
                     {{"id", "42"}});
  start();
  auto res = send(makeRequest(http::verb::post, "/users/42?x=1",
                              {{"Content-Type", "application/json"}}, R"({"name":"Max"})"));
  EXPECT_EQ(res.result_int(), 201u);
  EXPECT_EQ(res["X-Custom"], "yes");
  EXPECT_EQ(res.body(), "created");

  ASSERT_EQ(fn->payloads().size(), 1u);
  auto event = json::parse(fn->payloads()[0]);
  EXPECT_EQ(event.at("eventType"), "http.request");
  EXPECT_EQ(event.at("data").at("path"), "/users/42");
  EXPECT_EQ(event.at("data").at("method"), "POST");
  EXPECT_EQ(event.at("data").at("params").at("id"), "42");
  EXPECT_EQ(event.at("data").at("body").at("name"), "Max");
  EXPECT_TRUE(metricHas(
      "eventgateway_events_received_total{space=\"default\",type=\"http.request\"} 1"));
  EXPECT_TRUE(metricHas(
      "eventgateway_events_processed_total{space=\"default\",type=\"http.request\"} 1"));
}

TEST_F(DispatcherTest, SyncMalformedResultIs500) {
  snapshot_->addFunction("default", "f", [](std::string_view) { return ok("not an object"); });
  snapshot_->addSync("default", "f", "GET", "/x", "http.request");
  start();
  auto res = send(makeRequest(http::verb::get, "/x"));
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(errorMessage(res), "HTTP response object malformed");
}

TEST_F(DispatcherTest, SyncFailedCallIs500) {
  snapshot_->addFunction("default", "f", [](std::string_view) -> Result<providers::CallResult> {
    return Error::unavailable("connection refused");
  });
  snapshot_->addSync("default", "f", "GET", "/x", "http.request");
  start();
  auto res = send(makeRequest(http::verb::get, "/x"));
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(errorMessage(res), "Function call failed. Please check logs.");
  EXPECT_EQ(res[http::field::content_type], "application/json");
}

TEST_F(DispatcherTest, SyncSubscriptionToACustomEventType) {
  auto fn = snapshot_->addFunction("s1", "f", [](std::string_view) {
    return ok(R"({"body":"done"})");
  });
  snapshot_->addSync("s1", "f", "POST", "/orders", "order.placed");
  start();
  auto res = send(makeRequest(
      http::verb::post, "/orders", {{"Content-Type", "application/cloudevents+json"}},
      R"({"eventType":"order.placed","cloudEventsVersion":"0.1","source":"/shop",)"
      R"("eventID":"e-1","data":{"n":3}})"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "done");
  ASSERT_EQ(fn->payloads().size(), 1u);
  auto event = json::parse(fn->payloads()[0]);
  EXPECT_EQ(event.at("eventID"), "e-1");
  EXPECT_EQ(event.at("data").at("n"), 3);
}

// --- nothing subscribed, invalid input ---

TEST_F(DispatcherTest, NothingSubscribed) {
  start();
  auto res = send(makeRequest(http::verb::get, "/nope"));
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(errorMessage(res), "resource not found");

  res = send(emit("/", "user.created"));
  EXPECT_EQ(res.result_int(), 202u);
  EXPECT_TRUE(res.body().empty());
  EXPECT_TRUE(metricHas("eventgateway_events_received_total{space=\"\",type=\"\"} 1"));
  EXPECT_TRUE(
      metricHas("eventgateway_events_received_total{space=\"\",type=\"http.request\"} 1"));
}

TEST_F(DispatcherTest, InvalidCloudEventIs400WithTheMessage) {
  start();
  auto res = send(makeRequest(http::verb::post, "/",
                              {{"Content-Type", "application/cloudevents+json"}},
                              R"({"eventType":"a","cloudEventsVersion":"0.1","source":"/s"})"));
  EXPECT_EQ(res.result_int(), 400u);
  EXPECT_NE(errorMessage(res).find("eventID"), std::string::npos);
}

TEST_F(DispatcherTest, SystemEventsCannotBeSentFromOutside) {
  snapshot_->addFunction("default", "f", [](std::string_view) { return ok(""); });
  snapshot_->addAsync("default", "f", "POST", "/", "gateway.event.received");
  start();
  EXPECT_EQ(send(emit("/", "gateway.event.received")).result_int(), 400u);
  EXPECT_EQ(send(emit("/", "eventgateway.function.invoked")).result_int(), 400u);
  auto res = send(makeRequest(
      http::verb::post, "/", {{"Content-Type", "application/cloudevents+json"}},
      R"({"eventType":"eventgateway.event.received","cloudEventsVersion":"0.1",)"
      R"("source":"/s","eventID":"1"})"));
  EXPECT_EQ(res.result_int(), 400u);
}

// --- async subscriptions and the queue ---

TEST_F(DispatcherTest, AsyncEventIsAcceptedAndDelivered) {
  auto fn = snapshot_->addFunction("default", "sendEmail", [](std::string_view) {
    return ok("ignored");
  });
  snapshot_->addAsync("default", "sendEmail", "POST", "/myteam", "user.created");
  start();
  auto res = send(emit("/myteam", "user.created", R"({"name":"Max"})"));
  EXPECT_EQ(res.result_int(), 202u);
  EXPECT_TRUE(res.body().empty());
  ASSERT_TRUE(runUntil([&] { return fn->payloads().size() == 1; }, 300ms));
  auto event = json::parse(fn->payloads()[0]);
  EXPECT_EQ(event.at("eventType"), "user.created");
  EXPECT_EQ(event.at("data").at("name"), "Max");
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_TRUE(metricHas(
      "eventgateway_events_processed_total{space=\"default\",type=\"user.created\"} 1"));
  EXPECT_TRUE(metricHas("eventgateway_events_backlog 0"));
  EXPECT_TRUE(metricHas("eventgateway_events_custom_processing_seconds_count 1"));
}

TEST_F(DispatcherTest, EveryAsyncSubscriberOfEverySpaceGetsTheSamePayload) {
  auto a = snapshot_->addFunction("s1", "f", [](std::string_view) { return ok(""); });
  auto b = snapshot_->addFunction("s2", "f", [](std::string_view) { return ok(""); });
  snapshot_->addAsync("s1", "f", "POST", "/", "thing.happened");
  snapshot_->addAsync("s2", "f", "POST", "/", "thing.happened");
  start();
  EXPECT_EQ(send(emit("/", "thing.happened")).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return a->payloads().size() == 1 && b->payloads().size() == 1; }));
  EXPECT_EQ(a->payloads()[0], b->payloads()[0]);
  EXPECT_TRUE(
      metricHas("eventgateway_events_received_total{space=\"s1\",type=\"thing.happened\"} 1"));
  EXPECT_TRUE(
      metricHas("eventgateway_events_received_total{space=\"s2\",type=\"thing.happened\"} 1"));
}

TEST_F(DispatcherTest, FiltersChooseSubscribersBeforeQueuing) {
  auto eu = snapshot_->addFunction("default", "eu", [](std::string_view) { return ok(""); });
  auto us = snapshot_->addFunction("default", "us", [](std::string_view) { return ok(""); });
  auto all = snapshot_->addFunction("other", "all", [](std::string_view) { return ok(""); });
  eu->setDelay(200ms);
  us->setDelay(200ms);
  all->setDelay(200ms);
  snapshot_->addFilteredAsync("default", "eu", "POST", "/", "order.created",
                              R"([{"prefix":{"data.region":"eu-"}}])");
  snapshot_->addFilteredAsync("default", "us", "POST", "/", "order.created",
                              R"([{"exact":{"data.region":"us-east-1"}}])");
  snapshot_->addAsync("other", "all", "POST", "/", "order.created");
  start();
  EXPECT_EQ(send(emit("/", "order.created", R"({"region":"eu-west-1"})")).result_int(), 202u);
  // Nothing was queued for the subscriber whose filters did not match.
  EXPECT_EQ(queued(), 2u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_EQ(eu->payloads().size(), 1u);
  EXPECT_EQ(us->payloads().size(), 0u);
  EXPECT_EQ(all->payloads().size(), 1u);
  EXPECT_TRUE(metricHas(
      "eventgateway_events_filtered_total{space=\"default\",type=\"order.created\"} 1"));
  EXPECT_TRUE(metricHas(
      "eventgateway_events_received_total{space=\"default\",type=\"order.created\"} 1"));
}

TEST_F(DispatcherTest, FiltersReadHttpRequestEventsAndAllFilteredIsStill202) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) { return ok(""); });
  snapshot_->addFilteredAsync("default", "f", "POST", "/hook", "http.request",
                              R"([{"exact":{"data.body.kind":"push"}}])");
  start();
  auto push = makeRequest(http::verb::post, "/hook", {{"Content-Type", "application/json"}},
                          R"({"kind":"push"})");
  EXPECT_EQ(send(std::move(push)).result_int(), 202u);
  auto other = makeRequest(http::verb::post, "/hook", {{"Content-Type", "application/json"}},
                           R"({"kind":"pull"})");
  EXPECT_EQ(send(std::move(other)).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0 && fn->payloads().size() == 1; }));
  settle();
  ASSERT_EQ(fn->payloads().size(), 1u);
  EXPECT_EQ(json::parse(fn->payloads()[0]).at("data").at("body").at("kind"), "push");
  EXPECT_TRUE(metricHas(
      "eventgateway_events_filtered_total{space=\"default\",type=\"http.request\"} 1"));
}

TEST_F(DispatcherTest, TheTraceContextReachesEveryCallAndA10Event) {
  constexpr std::string_view kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto sync = snapshot_->addFunction("default", "s", [](std::string_view) {
    return ok(R"({"statusCode":200,"body":"ok"})");
  });
  auto async = snapshot_->addFunction("default", "a", [](std::string_view) { return ok(""); });
  snapshot_->addSync("default", "s", "POST", "/t", "com.example.t");
  snapshot_->addAsync("default", "a", "POST", "/t", "com.example.t");
  start();
  auto request = makeRequest(
      http::verb::post, "/t",
      {{"Content-Type", "application/cloudevents+json"}, {"traceparent", std::string(kParent)},
       {"tracestate", "congo=1"}},
      R"({"specversion":"1.0","id":"1","source":"/s","type":"com.example.t"})");
  EXPECT_EQ(send(std::move(request)).result_int(), 200u);
  ASSERT_TRUE(runUntil([&] { return async->payloads().size() == 1; }));
  const std::string expected = std::string(kParent) + "|congo=1";
  EXPECT_EQ(sync->traces(), std::vector<std::string>{expected});
  EXPECT_EQ(async->traces(), std::vector<std::string>{expected});
  for (const auto* fn : {sync.get(), async.get()}) {
    const auto event = json::parse(fn->payloads()[0]);
    EXPECT_EQ(event.at("traceparent").as_string(), kParent);
    EXPECT_EQ(event.at("tracestate"), "congo=1");
  }
  // Without one, nothing is forwarded and the event is as sent.
  EXPECT_EQ(send(emit("/t", "com.example.t")).result_int(), 200u);
  ASSERT_TRUE(runUntil([&] { return async->payloads().size() == 2; }));
  EXPECT_EQ(sync->traces().back(), "|");
  EXPECT_EQ(async->traces().back(), "|");
}

TEST_F(DispatcherTest, ASyncCallOverTheFunctionsLimitsIs429WithRetryAfter) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) {
    return ok(R"({"statusCode":200,"body":"ok"})");
  });
  model::FunctionLimits limits;
  limits.rate = 0.5;  // one call per 2 s
  limits.burst = 2;
  snapshot_->setLimits("default", "f", limits);
  snapshot_->addSync("default", "f", "GET", "/limited", "http.request");
  start();
  auto get = [] { return makeRequest(http::verb::get, "/limited"); };
  EXPECT_EQ(send(get()).result_int(), 200u);
  EXPECT_EQ(send(get()).result_int(), 200u);
  auto over = send(get());
  EXPECT_EQ(over.result_int(), 429u);
  EXPECT_EQ(over[http::field::retry_after], "2");
  EXPECT_EQ(errorMessage(over), "function \"f\" is over its limits; retry later");
  EXPECT_EQ(fn->payloads().size(), 2u);
  EXPECT_TRUE(metricHas(
      "eventgateway_calls_limited_total{space=\"default\",type=\"http.request\"} 1"));
}

TEST_F(DispatcherTest, AnAsyncDeliveryOverTheLimitsWaitsWithoutAnAttempt) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) { return ok(""); });
  model::FunctionLimits limits;
  limits.rate = 20;  // one every 50 ms after the first
  limits.burst = 1;
  snapshot_->setLimits("default", "f", limits);
  snapshot_->addAsync("default", "f", "POST", "/", "e");
  start({.delivery = {.retries = 0}});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(send(emit("/", "e")).result_int(), 202u);
  // No retries allowed, yet all three arrive: waiting for room is not an attempt.
  ASSERT_TRUE(runUntil([&] { return fn->payloads().size() == 3 && queued() == 0; }));
  EXPECT_FALSE(metricHas("eventgateway_deliveries_failed_total{space=\"default\""));
  EXPECT_TRUE(metricHas("eventgateway_calls_limited_total{space=\"default\",type=\"e\"}"));
}

TEST_F(DispatcherTest, SyncAndAsyncBothRun) {
  auto syncFn = snapshot_->addFunction("default", "s", [](std::string_view) {
    return ok(R"({"body":"sync answer"})");
  });
  auto asyncFn = snapshot_->addFunction("default", "a", [](std::string_view) { return ok(""); });
  auto otherFn = snapshot_->addFunction("other", "a", [](std::string_view) { return ok(""); });
  snapshot_->addSync("default", "s", "POST", "/both", "http.request");
  snapshot_->addAsync("default", "a", "POST", "/both", "http.request");
  snapshot_->addAsync("default", "a", "POST", "/both", "http.request");
  snapshot_->addAsync("other", "a", "POST", "/both", "http.request");
  start();
  auto res = send(makeRequest(http::verb::post, "/both"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), "sync answer");
  ASSERT_TRUE(runUntil([&] {
    return asyncFn->payloads().size() == 2 && otherFn->payloads().size() == 1;
  }));
  EXPECT_EQ(syncFn->payloads().size(), 1u);
  // Received once per space, processed once per call.
  EXPECT_TRUE(metricHas(
      "eventgateway_events_received_total{space=\"default\",type=\"http.request\"} 1\n"));
  EXPECT_TRUE(metricHas(
      "eventgateway_events_received_total{space=\"other\",type=\"http.request\"} 1\n"));
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_TRUE(metricHas(
      "eventgateway_events_processed_total{space=\"default\",type=\"http.request\"} 3\n"));
}

TEST_F(DispatcherTest, FullQueueRefusesTheWholeEvent) {
  auto a = snapshot_->addFunction("default", "a", [](std::string_view) { return ok(""); });
  auto b = snapshot_->addFunction("default", "b", [](std::string_view) { return ok(""); });
  a->setDelay(300ms);
  b->setDelay(300ms);
  snapshot_->addAsync("default", "a", "POST", "/", "e");
  snapshot_->addAsync("default", "b", "POST", "/", "e");
  start({.workers = 1}, 2);  // 3 slots: one event of 2 deliveries fits

  EXPECT_EQ(send(emit("/", "e")).result_int(), 202u);
  auto refused = send(emit("/", "e"));
  EXPECT_EQ(refused.result_int(), 503u);
  EXPECT_EQ(refused[http::field::retry_after], "1");
  EXPECT_FALSE(errorMessage(refused).empty());
  EXPECT_EQ(queued(), 2u);  // nothing of the refused event queued
  EXPECT_TRUE(metricHas("eventgateway_events_dropped_total{space=\"default\",type=\"e\"} 2"));

  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_EQ(a->payloads().size() + b->payloads().size(), 2u);
  EXPECT_EQ(send(emit("/", "e")).result_int(), 202u);  // room again
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
}

TEST_F(DispatcherTest, RefusedEventDoesNotCallTheSyncSubscriber) {
  auto s = snapshot_->addFunction("default", "s", [](std::string_view) { return ok("{}"); });
  auto a = snapshot_->addFunction("default", "a", [](std::string_view) { return ok(""); });
  a->setDelay(500ms);
  snapshot_->addSync("default", "s", "POST", "/", "e");
  snapshot_->addAsync("default", "a", "POST", "/", "e");
  start({.workers = 1}, 0);
  EXPECT_EQ(send(emit("/", "e")).result_int(), 200u);
  EXPECT_EQ(send(emit("/", "e")).result_int(), 503u);
  EXPECT_EQ(s->payloads().size(), 1u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
}

TEST_F(DispatcherTest, DrainingRefusesNewEventsAndWaitsForQueued) {
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) { return ok(""); });
  fn->setDelay(50ms);
  snapshot_->addAsync("default", "f", "POST", "/", "e");
  start();
  EXPECT_EQ(send(emit("/", "e")).result_int(), 202u);
  dispatcher_->startDraining();
  auto res = send(emit("/", "e"));
  EXPECT_EQ(res.result_int(), 503u);
  EXPECT_EQ(errorMessage(res), "gateway is shutting down");

  std::atomic<bool> stop{false};
  std::thread runner([&] {
    while (!stop) ioc_.run_one_for(5ms);
  });
  EXPECT_TRUE(dispatcher_->waitDrained(3000ms));
  stop = true;
  runner.join();
  EXPECT_EQ(fn->payloads().size(), 1u);  // the accepted event was delivered
}

// --- Gen 1 invoke ---

TEST_F(DispatcherTest, InvokeCallsTheFunctionAndReturnsItsRawResult) {
  auto fn = snapshot_->addFunction("default", "createUser", [](std::string_view) {
    return ok(R"({"id":7})", "application/json");
  });
  snapshot_->addInvoke("default", "createUser", "/");
  start();
  auto res = send(makeRequest(http::verb::post, "/",
                              {{"Event", "invoke"}, {"Function-ID", "createUser"},
                               {"Content-Type", "application/json"}},
                              R"({"name":"Max"})"));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res.body(), R"({"id":7})");
  EXPECT_EQ(res[http::field::content_type], "application/json");
  ASSERT_EQ(fn->payloads().size(), 1u);
  EXPECT_EQ(json::parse(fn->payloads()[0]).at("data").at("name"), "Max");
  EXPECT_TRUE(
      metricHas("eventgateway_events_received_total{space=\"default\",type=\"invoke\"} 1"));
}

TEST_F(DispatcherTest, InvokeHonoursSpaceAndReportsMissingAndFailures) {
  snapshot_->addFunction("team", "f", [](std::string_view) { return ok("r"); });
  snapshot_->addFunction("default", "broken", [](std::string_view) -> Result<providers::CallResult> {
    return Error::timeout("deadline");
  });
  snapshot_->addInvoke("team", "f", "/");
  snapshot_->addInvoke("default", "broken", "/");
  start();
  auto invoke = [&](Headers h) {
    h.emplace_back("Event", "invoke");
    return send(makeRequest(http::verb::post, "/", std::move(h), "x"));
  };
  auto res = invoke({{"Function-ID", "f"}});
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(errorMessage(res), "function or subscription not found");
  EXPECT_EQ(invoke({{"Function-ID", "f"}, {"Space", "team"}}).body(), "r");
  EXPECT_EQ(invoke({}).result_int(), 404u);
  res = invoke({{"Function-ID", "broken"}});
  EXPECT_EQ(res.result_int(), 500u);
  EXPECT_EQ(errorMessage(res), "Function call failed. Please check logs.");
}

// --- authorizers (§3.4) ---

TEST_F(DispatcherTest, SyncAuthorizerAllowsAndAttachesAuthorization) {
  auto auth = snapshot_->addFunction("default", "auth", [](std::string_view) {
    return ok(R"({"authorization":{"principalId":"user-1","context":{"role":"admin"}}})");
  });
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) {
    return ok(R"({"body":"ok"})");
  });
  snapshot_->addEventType("default", "http.request", "auth");
  snapshot_->addSync("default", "f", "GET", "/secure", "http.request");
  start();
  auto res = send(makeRequest(http::verb::get, "/secure", {{"Authorization", "Bearer t"}}));
  EXPECT_EQ(res.result_int(), 200u);

  ASSERT_EQ(auth->payloads().size(), 1u);
  auto authCall = json::parse(auth->payloads()[0]);
  EXPECT_EQ(authCall.at("event").at("eventType"), "http.request");
  EXPECT_EQ(authCall.at("request").at("path"), "/secure");
  EXPECT_EQ(authCall.at("request").at("headers").at("Authorization"), "Bearer t");

  ASSERT_EQ(fn->payloads().size(), 1u);
  auto event = json::parse(fn->payloads()[0]);
  const auto& authorization = event.at("extensions").at("eventgateway").at("authorization");
  EXPECT_EQ(authorization.at("principalId"), "user-1");
  EXPECT_EQ(authorization.at("context").at("role"), "admin");
  EXPECT_EQ(event.at("extensions").at("eventgateway").at("transformed"), "true");
}

TEST_F(DispatcherTest, SyncAuthorizerRefusalIs403AndSkipsTheCall) {
  snapshot_->addFunction("default", "auth", [](std::string_view) {
    return ok(R"({"error":{"message":"invalid token"}})");
  });
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) { return ok("{}"); });
  snapshot_->addEventType("default", "http.request", "auth");
  snapshot_->addSync("default", "f", "GET", "/secure", "http.request");
  start();
  auto res = send(makeRequest(http::verb::get, "/secure"));
  EXPECT_EQ(res.result_int(), 403u);
  EXPECT_EQ(errorMessage(res), "invalid token");
  EXPECT_TRUE(fn->payloads().empty());
  EXPECT_TRUE(metricHas(
      "eventgateway_events_unauthorized_total{space=\"default\",type=\"http.request\"} 1"));
}

TEST_F(DispatcherTest, SyncAuthorizerFailureIs403) {
  snapshot_->addFunction("default", "auth", [](std::string_view) -> Result<providers::CallResult> {
    return Error::unavailable("down");
  });
  auto fn = snapshot_->addFunction("default", "f", [](std::string_view) { return ok("{}"); });
  snapshot_->addEventType("default", "http.request", "auth");
  snapshot_->addSync("default", "f", "GET", "/secure", "http.request");
  start();
  EXPECT_EQ(send(makeRequest(http::verb::get, "/secure")).result_int(), 403u);
  EXPECT_TRUE(fn->payloads().empty());
}

TEST_F(DispatcherTest, AsyncAuthorizerRunsPerSpaceInsideTheDelivery) {
  // Space "locked" refuses, space "open" has no authorizer, space "auth" allows.
  snapshot_->addFunction("locked", "auth", [](std::string_view) {
    return ok(R"({"error":{"message":"no"}})");
  });
  snapshot_->addFunction("auth", "auth", [](std::string_view) {
    return ok(R"({"authorization":{"principalId":"p"}})");
  });
  auto locked = snapshot_->addFunction("locked", "f", [](std::string_view) { return ok(""); });
  auto open = snapshot_->addFunction("open", "f", [](std::string_view) { return ok(""); });
  auto authed = snapshot_->addFunction("auth", "f", [](std::string_view) { return ok(""); });
  snapshot_->addEventType("locked", "e", "auth");
  snapshot_->addEventType("auth", "e", "auth");
  snapshot_->addAsync("locked", "f", "POST", "/", "e");
  snapshot_->addAsync("open", "f", "POST", "/", "e");
  snapshot_->addAsync("auth", "f", "POST", "/", "e");
  start();
  EXPECT_EQ(send(emit("/", "e")).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  EXPECT_TRUE(locked->payloads().empty());
  ASSERT_EQ(open->payloads().size(), 1u);
  EXPECT_FALSE(json::parse(open->payloads()[0])
                   .at("extensions")
                   .at("eventgateway")
                   .as_object()
                   .contains("authorization"));
  ASSERT_EQ(authed->payloads().size(), 1u);
  EXPECT_EQ(json::parse(authed->payloads()[0])
                .at("extensions")
                .at("eventgateway")
                .at("authorization")
                .at("principalId"),
            "p");
  EXPECT_TRUE(
      metricHas("eventgateway_events_unauthorized_total{space=\"locked\",type=\"e\"} 1"));
}

// --- CORS (§3.5) ---

TEST_F(DispatcherTest, PreflightIsAnsweredFromTheRules) {
  model::CorsRules rules;
  rules.origins = {"http://*.example.com"};
  rules.methods = {"GET", "POST"};
  snapshot_->addCors("POST", "/api", rules);
  start();
  auto res = send(makeRequest(http::verb::options, "/api",
                              {{"Origin", "http://app.example.com"},
                               {"Access-Control-Request-Method", "POST"}}));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "http://app.example.com");
  EXPECT_EQ(res[http::field::access_control_allow_methods], "POST");
}

TEST_F(DispatcherTest, PreflightWithoutRulesIsAnOrdinaryRequest) {
  start();
  auto res = send(makeRequest(http::verb::options, "/api",
                              {{"Origin", "http://a.test"},
                               {"Access-Control-Request-Method", "POST"}}));
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_TRUE(res[http::field::access_control_allow_origin].empty());
}

TEST_F(DispatcherTest, ActualRequestGetsCorsHeadersOnlyWithRules) {
  snapshot_->addFunction("default", "f", [](std::string_view) { return ok(R"({"body":"b"})"); });
  snapshot_->addSync("default", "f", "GET", "/api", "http.request");
  snapshot_->addSync("default", "f", "GET", "/plain", "http.request");
  model::CorsRules rules;
  rules.origins = {"http://good.test"};
  rules.allowCredentials = true;
  snapshot_->addCors("GET", "/api", rules);
  start();
  auto res = send(makeRequest(http::verb::get, "/api", {{"Origin", "http://good.test"}}));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "http://good.test");
  EXPECT_EQ(res[http::field::access_control_allow_credentials], "true");

  res = send(makeRequest(http::verb::get, "/api", {{"Origin", "http://bad.test"}}));
  EXPECT_TRUE(res[http::field::access_control_allow_origin].empty());

  res = send(makeRequest(http::verb::get, "/plain", {{"Origin", "http://good.test"}}));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(res[http::field::access_control_allow_origin].empty());
}

TEST_F(DispatcherTest, Gen1CustomEventsAcceptAnyOrigin) {
  snapshot_->addFunction("default", "f", [](std::string_view) { return ok(""); });
  snapshot_->addAsync("default", "f", "POST", "/", "user.created");
  start();
  auto req = emit("/", "user.created");
  req.set(http::field::origin, "http://anywhere.test");
  auto res = send(std::move(req));
  EXPECT_EQ(res.result_int(), 202u);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "*");

  res = send(makeRequest(http::verb::options, "/",
                         {{"Origin", "http://anywhere.test"},
                          {"Access-Control-Request-Method", "POST"},
                          {"Access-Control-Request-Headers", "content-type,event"}}));
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "*");
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
}

// --- system events (§3.6) ---

TEST_F(DispatcherTest, SystemEventsReachBothGenerationsOfSubscribers) {
  auto target = snapshot_->addFunction("default", "target", [](std::string_view) {
    return ok(R"({"body":"hi"})");
  });
  auto received = snapshot_->addFunction("default", "rx", [](std::string_view) { return ok(""); });
  auto invoking = snapshot_->addFunction("default", "inv", [](std::string_view) { return ok(""); });
  auto invoked = snapshot_->addFunction("default", "done", [](std::string_view) { return ok(""); });
  snapshot_->addSync("default", "target", "GET", "/hello", "http.request");
  snapshot_->addAsync("default", "rx", "POST", "/", "eventgateway.event.received");
  snapshot_->addAsync("default", "inv", "POST", "/", "gateway.function.invoking");
  snapshot_->addAsync("default", "done", "POST", "/", "eventgateway.function.invoked");
  snapshot_->addAsync("default", "done", "POST", "/", "gateway.function.invoked");
  start();

  EXPECT_EQ(send(makeRequest(http::verb::get, "/hello", {{"X-Trace", "t1"}})).body(), "hi");
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  settle();

  // One of each: deliveries of system events emit no further system events.
  ASSERT_EQ(received->payloads().size(), 1u);
  auto rx = json::parse(received->payloads()[0]);
  EXPECT_EQ(rx.at("eventType"), "eventgateway.event.received");
  EXPECT_EQ(rx.at("data").at("path"), "/hello");
  EXPECT_EQ(rx.at("data").at("event").at("eventType"), "http.request");
  EXPECT_EQ(rx.at("data").at("headers").at("X-Trace"), "t1");

  ASSERT_EQ(invoking->payloads().size(), 1u);
  auto inv = json::parse(invoking->payloads()[0]);
  EXPECT_EQ(inv.at("eventType"), "gateway.function.invoking");
  EXPECT_EQ(inv.at("data").at("functionId"), "target");
  EXPECT_EQ(inv.at("data").at("space"), "default");

  ASSERT_EQ(invoked->payloads().size(), 2u);  // once per name
  std::vector<std::string> types;
  for (const auto& p : invoked->payloads()) {
    auto v = json::parse(p);
    types.emplace_back(v.at("eventType").as_string());
    EXPECT_EQ(v.at("data").at("result"), R"({"body":"hi"})");
  }
  std::sort(types.begin(), types.end());
  EXPECT_EQ(types, (std::vector<std::string>{"eventgateway.function.invoked",
                                             "gateway.function.invoked"}));
}

TEST_F(DispatcherTest, FunctionSystemEventsStayInTheirSpace) {
  snapshot_->addFunction("a", "f", [](std::string_view) { return ok(""); });
  auto sameSpace = snapshot_->addFunction("a", "watch", [](std::string_view) { return ok(""); });
  auto otherSpace = snapshot_->addFunction("b", "watch", [](std::string_view) { return ok(""); });
  snapshot_->addAsync("a", "f", "POST", "/", "e");
  snapshot_->addAsync("a", "watch", "POST", "/", "eventgateway.function.invoked");
  snapshot_->addAsync("b", "watch", "POST", "/", "eventgateway.function.invoked");
  start();
  EXPECT_EQ(send(emit("/", "e")).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  settle();
  EXPECT_EQ(sameSpace->payloads().size(), 1u);
  EXPECT_TRUE(otherSpace->payloads().empty());
}

TEST_F(DispatcherTest, InvocationFailedEventCarriesTheError) {
  snapshot_->addFunction("default", "bad", [](std::string_view) -> Result<providers::CallResult> {
    return Error::timeout("call timed out");
  });
  auto watcher = snapshot_->addFunction("default", "w", [](std::string_view) {
    return Result<providers::CallResult>(Error::unavailable("watcher down too"));
  });
  snapshot_->addAsync("default", "bad", "POST", "/", "e");
  snapshot_->addAsync("default", "w", "POST", "/", "gateway.function.invocationFailed");
  DispatchSettings settings;
  settings.delivery.retries = 0;  // one attempt each: one invocationFailed event
  start(settings);
  EXPECT_EQ(send(emit("/", "e")).result_int(), 202u);
  ASSERT_TRUE(runUntil([&] { return queued() == 0; }));
  settle();
  // The watcher's own failure does not loop back to it.
  ASSERT_EQ(watcher->payloads().size(), 1u);
  auto v = json::parse(watcher->payloads()[0]);
  EXPECT_EQ(v.at("data").at("functionId"), "bad");
  EXPECT_EQ(v.at("data").at("error").at("message"), "call timed out");
  EXPECT_EQ(v.at("data").at("event").at("eventType"), "e");
}

}  // namespace
}  // namespace eg::dispatch
