#include "routing/snapshot_impl.h"

#include <gtest/gtest.h>

#include "test_helpers.h"

namespace eg::routing {
namespace {

using model::SubscriptionType;
using testing::cors;
using testing::eventType;
using testing::function;
using testing::subscription;

FunctionEntry entry(model::Function f) { return FunctionEntry{std::move(f), nullptr}; }

SnapshotContents sampleContents() {
  SnapshotContents c;
  c.revision = 42;
  c.functions = {entry(function("s1", "f1")), entry(function("s1", "f2")),
                 entry(function("s2", "f1"))};
  c.eventTypes = {eventType("s1", "user.created"), eventType("s2", "user.created"),
                  eventType("s1", "http.request")};
  c.subscriptions = {
      subscription("s1", "sync-users", SubscriptionType::kSync, "http.request", "f1", "GET",
                   "/users/:id"),
      subscription("s1", "sync-static", SubscriptionType::kSync, "http.request", "f2", "GET",
                   "/users/me/profile"),
      subscription("s1", "async-1", SubscriptionType::kAsync, "user.created", "f1", "POST", "/"),
      subscription("s2", "async-2", SubscriptionType::kAsync, "user.created", "f1", "POST", "/"),
      subscription("s1", "async-other-path", SubscriptionType::kAsync, "user.created", "f2",
                   "POST", "/other"),
      subscription("s1", "invoke-1", SubscriptionType::kInvoke, "invoke", "f2", "POST", "/"),
      subscription("s1", "orphan", SubscriptionType::kAsync, "user.created", "missing", "POST",
                   "/"),
  };
  return c;
}

TEST(SnapshotTest, SyncRoutesWithParams) {
  auto snap = buildSnapshot(sampleContents());
  EXPECT_EQ(snap->revision(), 42);
  auto m = snap->findSync("GET", "/users/7", "http.request");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route.subscription->subscriptionId, "sync-users");
  EXPECT_EQ(m->route.function->function.functionId, "f1");
  EXPECT_EQ(m->route.function->function.space, "s1");
  EXPECT_EQ(m->params, (PathParams{{"id", "7"}}));

  // Backtracking: "/users/me" is not a route of the static branch, so the parameter matches.
  m = snap->findSync("GET", "/users/me", "http.request");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route.subscription->subscriptionId, "sync-users");
  m = snap->findSync("GET", "/users/me/profile", "http.request");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route.subscription->subscriptionId, "sync-static");
  EXPECT_TRUE(m->params.empty());

  EXPECT_FALSE(snap->findSync("POST", "/users/7", "http.request").has_value());
  EXPECT_FALSE(snap->findSync("GET", "/users/7", "user.created").has_value());
  EXPECT_FALSE(snap->findSync("GET", "/nothing", "http.request").has_value());
}

TEST(SnapshotTest, AsyncFanOutAcrossSpaces) {
  auto snap = buildSnapshot(sampleContents());
  auto routes = snap->findAsync("POST", "/", "user.created");
  ASSERT_EQ(routes.size(), 2u);  // the orphan subscription is not routed
  EXPECT_EQ(routes[0].subscription->space, "s1");
  EXPECT_EQ(routes[0].function->function.space, "s1");
  EXPECT_EQ(routes[1].subscription->space, "s2");
  // Each subscription calls its own space's function.
  EXPECT_EQ(routes[1].function->function.space, "s2");
  EXPECT_EQ(routes[1].function->function.functionId, "f1");

  auto other = snap->findAsync("POST", "/other", "user.created");
  ASSERT_EQ(other.size(), 1u);
  EXPECT_EQ(other[0].subscription->subscriptionId, "async-other-path");
  EXPECT_TRUE(snap->findAsync("GET", "/", "user.created").empty());
  EXPECT_TRUE(snap->findAsync("POST", "/x", "user.created").empty());
  EXPECT_TRUE(snap->findAsync("POST", "/", "nope").empty());
}

TEST(SnapshotTest, InvokeRoutes) {
  auto snap = buildSnapshot(sampleContents());
  const Route* r = snap->findInvoke("s1", "f2", "/");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->subscription->subscriptionId, "invoke-1");
  EXPECT_EQ(r->function->function.functionId, "f2");
  EXPECT_EQ(snap->findInvoke("s2", "f2", "/"), nullptr);
  EXPECT_EQ(snap->findInvoke("s1", "f1", "/"), nullptr);
  EXPECT_EQ(snap->findInvoke("s1", "f2", "/x"), nullptr);
}

TEST(SnapshotTest, FunctionsAndEventTypesBySpace) {
  auto snap = buildSnapshot(sampleContents());
  ASSERT_NE(snap->function("s2", "f1"), nullptr);
  EXPECT_EQ(snap->function("s2", "f1")->function.space, "s2");
  EXPECT_EQ(snap->function("s2", "f2"), nullptr);
  EXPECT_EQ(snap->function("nope", "f1"), nullptr);
  ASSERT_NE(snap->eventType("s1", "http.request"), nullptr);
  EXPECT_EQ(snap->eventType("s2", "http.request"), nullptr);
}

TEST(SnapshotTest, CountsPerSpaceIncludeUnroutedSubscriptions) {
  auto snap = buildSnapshot(sampleContents());
  const auto& counts = snap->counts();
  ASSERT_EQ(counts.size(), 2u);
  EXPECT_EQ(counts.at("s1").functions, 2u);
  EXPECT_EQ(counts.at("s1").eventTypes, 2u);
  EXPECT_EQ(counts.at("s1").subscriptions, 6u);
  EXPECT_EQ(counts.at("s2").functions, 1u);
  EXPECT_EQ(counts.at("s2").eventTypes, 1u);
  EXPECT_EQ(counts.at("s2").subscriptions, 1u);
}

TEST(SnapshotTest, CorsResourcesMatchParamsAndWinOverGen1) {
  SnapshotContents c;
  c.functions = {entry(function("s1", "f1"))};
  c.cors = {cors("s1", "GET", "/items/:id", "https://a.example"),
            cors("s1", "POST", "/items", "https://b.example")};
  auto gen1 = subscription("s1", "gen1-http", SubscriptionType::kSync, "http.request", "f1", "GET",
                           "/items/:id");
  gen1.generation = model::Generation::k1;
  gen1.cors = model::CorsRules{};
  gen1.cors->origins = {"https://gen1.example"};
  auto gen1Other = subscription("s1", "gen1-other", SubscriptionType::kSync, "http.request", "f1",
                                "GET", "/legacy");
  gen1Other.generation = model::Generation::k1;
  gen1Other.cors = model::CorsRules{};
  c.subscriptions = {gen1, gen1Other};
  auto snap = buildSnapshot(std::move(c));

  const model::CorsRules* rules = snap->cors("GET", "/items/123");
  ASSERT_NE(rules, nullptr);
  EXPECT_EQ(rules->origins, std::vector<std::string>{"https://a.example"});
  rules = snap->cors("POST", "/items");
  ASSERT_NE(rules, nullptr);
  EXPECT_EQ(rules->origins, std::vector<std::string>{"https://b.example"});
  rules = snap->cors("GET", "/legacy");
  ASSERT_NE(rules, nullptr);
  EXPECT_EQ(rules->origins, std::vector<std::string>{"*"});
  EXPECT_EQ(snap->cors("GET", "/items"), nullptr);
  EXPECT_EQ(snap->cors("PUT", "/items/1"), nullptr);
}

TEST(SnapshotTest, DuplicateSyncRouteAcrossSpacesKeepsFirst) {
  SnapshotContents c;
  c.functions = {entry(function("s1", "f1")), entry(function("s2", "f1"))};
  c.subscriptions = {
      subscription("s1", "a", SubscriptionType::kSync, "http.request", "f1", "GET", "/x"),
      subscription("s2", "b", SubscriptionType::kSync, "http.request", "f1", "GET", "/x"),
  };
  auto snap = buildSnapshot(std::move(c));
  auto m = snap->findSync("GET", "/x", "http.request");
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->route.subscription->space, "s1");
}

TEST(SnapshotTest, InvokersComeFromTheRegistry) {
  providers::ProviderRegistry registry;
  auto created = std::make_shared<std::atomic<int>>(0);
  registry.add("fake", std::make_unique<testing::FakeFactory>(created));
  EXPECT_NE(makeInvoker(function("s1", "f1"), registry), nullptr);
  EXPECT_EQ(created->load(), 1);
  EXPECT_EQ(makeInvoker(function("s1", "f1", "unknown"), registry), nullptr);
}

TEST(SnapshotTest, FiltersAreCompiledIntoTheirRoutes) {
  SnapshotContents c;
  c.functions = {entry(function("s1", "f1")), entry(function("s1", "f2"))};
  auto filtered = subscription("s1", "a", SubscriptionType::kAsync, "e", "f1", "POST", "/");
  filtered.filters = boost::json::parse(R"([{"exact":{"source":"/x"}}])").as_array();
  auto broken = subscription("s1", "b", SubscriptionType::kAsync, "e", "f2", "POST", "/");
  broken.filters = boost::json::parse(R"([{"nope":{}}])").as_array();
  c.subscriptions = {filtered, broken,
                     subscription("s1", "c", SubscriptionType::kAsync, "e", "f2", "POST", "/")};
  auto snap = buildSnapshot(std::move(c));
  const auto routes = snap->findAsync("POST", "/", "e");
  // A stored filter that does not compile leaves its subscription unrouted.
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_EQ(routes[0].subscription->subscriptionId, "a");
  ASSERT_NE(routes[0].filter, nullptr);
  EXPECT_FALSE(routes[0].subscription->filters);  // compiled, the JSON is not kept
  events::CloudEvent event;
  event.source = "/x";
  EXPECT_TRUE(routes[0].filter->matches(event));
  event.source = "/y";
  EXPECT_FALSE(routes[0].filter->matches(event));
  EXPECT_EQ(routes[1].filter, nullptr);
  EXPECT_EQ(snap->findSubscription("s1", "a")->filter, routes[0].filter);
}

}  // namespace
}  // namespace eg::routing
