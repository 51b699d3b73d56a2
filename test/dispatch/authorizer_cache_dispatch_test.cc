// Authorizer caching (spec §6) at the dispatcher: which requests reuse a decision and
// which call the authorizer, for sync calls and async deliveries.
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "dispatch/fixture.h"

namespace eg::dispatch {
namespace {

using namespace testing;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

model::AuthorizerCache cacheFor(std::chrono::milliseconds ttl,
                                std::optional<std::vector<std::string>> key = std::nullopt) {
  return model::AuthorizerCache{model::Duration{"ttl", ttl}, std::move(key)};
}

// A sync GET /secure whose event type (http.request) has the authorizer "auth", which
// allows every token but "Bearer bad" and names the token as the principal.
class AuthorizerCacheDispatchTest : public DispatcherTest {
 protected:
  void SetUp() override {
    auth_ = snapshot_->addFunction("default", "auth", [](std::string_view payload) {
      const auto request = json::parse(payload).at("request");
      const auto* token = request.at("headers").as_object().if_contains("Authorization");
      if (token != nullptr && *token == "Bearer bad") {
        return ok(R"({"error":{"message":"invalid token"}})");
      }
      return ok(R"({"authorization":{"principalId":")" +
                (token ? std::string(token->as_string()) : std::string("anonymous")) + R"("}})");
    });
    fn_ = snapshot_->addFunction("default", "f", [](std::string_view) {
      return ok(R"({"body":"ok"})");
    });
    type_ = &snapshot_->addEventType("default", "http.request", "auth");
    type_->authorizerCache = cacheFor(1min);
    snapshot_->addSync("default", "f", "GET", "/secure", "http.request");
  }

  net::Response get(std::string target, Headers headers = {}) {
    return send(makeRequest(http::verb::get, std::move(target), std::move(headers)));
  }
  net::Response withToken(std::string token) {
    return get("/secure", {{"Authorization", std::move(token)}});
  }
  // The principal the function received last.
  std::string lastPrincipal() const {
    const auto event = json::parse(fn_->payloads().back());
    return std::string(event.at("extensions")
                           .at("eventgateway")
                           .at("authorization")
                           .at("principalId")
                           .as_string());
  }
  std::string metric(std::string_view name) const {
    return std::string(name) + R"({space="default",type="http.request"} )";
  }

  std::shared_ptr<FakeInvoker> auth_;
  std::shared_ptr<FakeInvoker> fn_;
  model::EventType* type_ = nullptr;
};

TEST_F(AuthorizerCacheDispatchTest, SyncCallsTheAuthorizerOncePerKeyWithinTheTtl) {
  start();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(withToken("Bearer alice").result_int(), 200u);
    EXPECT_EQ(lastPrincipal(), "Bearer alice");
  }
  EXPECT_EQ(auth_->payloads().size(), 1u);
  EXPECT_EQ(fn_->payloads().size(), 3u);
  EXPECT_TRUE(metricHas(metric("eventgateway_authorizer_cache_hits_total") + "2"));
  EXPECT_TRUE(metricHas(metric("eventgateway_authorizer_cache_misses_total") + "1"));
  EXPECT_TRUE(metricHas("eventgateway_authorizer_cache_entries 1\n"));
}

TEST_F(AuthorizerCacheDispatchTest, RefusalIsCachedToo) {
  start();
  for (int i = 0; i < 2; ++i) {
    auto res = withToken("Bearer bad");
    EXPECT_EQ(res.result_int(), 403u);
    EXPECT_EQ(errorMessage(res), "invalid token");
  }
  EXPECT_EQ(auth_->payloads().size(), 1u);
  EXPECT_TRUE(fn_->payloads().empty());
  EXPECT_TRUE(metricHas(metric("eventgateway_events_unauthorized_total") + "2"));
}

TEST_F(AuthorizerCacheDispatchTest, AnotherKeyCallsAgain) {
  start();
  withToken("Bearer alice");
  withToken("Bearer bob");
  EXPECT_EQ(lastPrincipal(), "Bearer bob");
  withToken("Bearer alice");
  EXPECT_EQ(lastPrincipal(), "Bearer alice");
  EXPECT_EQ(auth_->payloads().size(), 2u);
}

TEST_F(AuthorizerCacheDispatchTest, MissingKeyIsNotCached) {
  start();
  EXPECT_EQ(get("/secure").result_int(), 200u);
  EXPECT_EQ(get("/secure").result_int(), 200u);
  EXPECT_EQ(auth_->payloads().size(), 2u);
  EXPECT_TRUE(metricHas(metric("eventgateway_authorizer_cache_misses_total") + "2"));
  EXPECT_TRUE(metricHas("eventgateway_authorizer_cache_entries 0\n"));
}

TEST_F(AuthorizerCacheDispatchTest, FailedCallIsNotCached) {
  int calls = 0;
  auto flaky = snapshot_->addFunction("default", "flaky",
                                      [&](std::string_view) -> Result<providers::CallResult> {
                                        if (++calls == 1) return Error::unavailable("down");
                                        return ok(R"({"authorization":{"principalId":"p"}})");
                                      });
  type_->authorizerId = "flaky";
  start();
  EXPECT_EQ(withToken("Bearer alice").result_int(), 403u);
  EXPECT_EQ(withToken("Bearer alice").result_int(), 200u);
  EXPECT_EQ(withToken("Bearer alice").result_int(), 200u);
  EXPECT_EQ(flaky->payloads().size(), 2u);
}

TEST_F(AuthorizerCacheDispatchTest, DecisionExpiresAfterTheTtl) {
  type_->authorizerCache = cacheFor(50ms);
  start();
  withToken("Bearer alice");
  withToken("Bearer alice");
  EXPECT_EQ(auth_->payloads().size(), 1u);
  std::this_thread::sleep_for(70ms);
  withToken("Bearer alice");
  EXPECT_EQ(auth_->payloads().size(), 2u);
}

TEST_F(AuthorizerCacheDispatchTest, KeyOfHeaderAndQueryParts) {
  type_->authorizerCache = cacheFor(1min, std::vector<std::string>{"header:X-Api-Key", "query:tenant"});
  start();
  get("/secure?tenant=a", {{"x-api-key", "k1"}});
  get("/secure?x=1&tenant=a", {{"X-API-KEY", "k1"}});  // names differ only in case
  EXPECT_EQ(auth_->payloads().size(), 1u);
  get("/secure?tenant=b", {{"X-Api-Key", "k1"}});
  get("/secure?tenant=a&tenant=b", {{"X-Api-Key", "k1"}});  // every value counts
  get("/secure?tenant=a", {{"X-Api-Key", "k2"}});
  EXPECT_EQ(auth_->payloads().size(), 4u);
  get("/secure?tenant=%61", {{"X-Api-Key", "k1"}});  // decoded, as the authorizer sees it
  EXPECT_EQ(auth_->payloads().size(), 4u);
  // Without a part: called each time. The Authorization header is not part of this key.
  get("/secure", {{"X-Api-Key", "k1"}});
  get("/secure", {{"X-Api-Key", "k1"}});
  get("/secure?tenant=a", {{"Authorization", "Bearer x"}});
  EXPECT_EQ(auth_->payloads().size(), 7u);
}

TEST_F(AuthorizerCacheDispatchTest, AConfigurationChangeMisses) {
  start();
  withToken("Bearer alice");
  snapshot_->setRevision(2);
  withToken("Bearer alice");
  EXPECT_EQ(auth_->payloads().size(), 2u);
  withToken("Bearer alice");
  EXPECT_EQ(auth_->payloads().size(), 2u);
}

TEST_F(AuthorizerCacheDispatchTest, EventTypesWithoutACacheAndAZeroSizeCallEveryTime) {
  type_->authorizerCache.reset();
  start();
  withToken("Bearer alice");
  withToken("Bearer alice");
  EXPECT_EQ(auth_->payloads().size(), 2u);
  EXPECT_FALSE(metricHas(metric("eventgateway_authorizer_cache_misses_total")));
}

TEST_F(AuthorizerCacheDispatchTest, SizeZeroDisablesCaching) {
  DispatchSettings settings;
  settings.authorizerCacheSize = 0;
  start(settings);
  withToken("Bearer alice");
  withToken("Bearer alice");
  EXPECT_EQ(auth_->payloads().size(), 2u);
  EXPECT_FALSE(metricHas(metric("eventgateway_authorizer_cache_hits_total")));
}

TEST_F(AuthorizerCacheDispatchTest, WeightedAuthorizerIsCachedByItsConfiguredId) {
  auto a = snapshot_->addFunction("default", "a", [](std::string_view) {
    return ok(R"({"authorization":{"principalId":"a"}})");
  });
  auto b = snapshot_->addFunction("default", "b", [](std::string_view) {
    return ok(R"({"authorization":{"principalId":"b"}})");
  });
  snapshot_->addWeighted("default", "split", {{"a", 1}, {"b", 1}});
  type_->authorizerId = "split";
  start();
  for (int i = 0; i < 6; ++i) EXPECT_EQ(withToken("Bearer alice").result_int(), 200u);
  EXPECT_EQ(a->payloads().size() + b->payloads().size(), 1u);
}

TEST_F(AuthorizerCacheDispatchTest, AsyncDeliveriesReadTheKeyFromTheKeptRequest) {
  auto sub = snapshot_->addFunction("default", "sub", [](std::string_view) { return ok(""); });
  snapshot_->addEventType("default", "e", "auth").authorizerCache =
      cacheFor(1min, std::vector<std::string>{"header:Authorization", "query:tenant"});
  snapshot_->addAsync("default", "sub", "POST", "/", "e");
  start();
  auto emitWith = [&](std::string target, std::string token) {
    auto req = emit(std::move(target), "e");
    req.set(http::field::authorization, token);
    EXPECT_EQ(send(std::move(req)).result_int(), 202u);
    EXPECT_TRUE(runUntil([&] { return queued() == 0; }));
  };
  emitWith("/?tenant=t1", "Bearer alice");
  emitWith("/?tenant=t1", "Bearer alice");
  EXPECT_EQ(auth_->payloads().size(), 1u);
  ASSERT_EQ(sub->payloads().size(), 2u);
  EXPECT_EQ(json::parse(sub->payloads()[1])
                .at("extensions")
                .at("eventgateway")
                .at("authorization")
                .at("principalId"),
            "Bearer alice");
  emitWith("/?tenant=t2", "Bearer alice");
  emitWith("/?tenant=t1", "Bearer bad");
  emitWith("/?tenant=t1", "Bearer bad");
  EXPECT_EQ(auth_->payloads().size(), 3u);
  EXPECT_EQ(sub->payloads().size(), 3u);
  EXPECT_TRUE(metricHas(R"(eventgateway_authorizer_cache_hits_total{space="default",type="e"} 2)"));
  EXPECT_TRUE(metricHas(R"(eventgateway_authorizer_cache_misses_total{space="default",type="e"} 3)"));
}

}  // namespace
}  // namespace eg::dispatch
