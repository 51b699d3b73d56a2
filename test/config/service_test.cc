#include "config/service.h"

#include <thread>

#include <gtest/gtest.h>

#include "config/fakes.h"
#include "model/codec.h"
#include "model/keys.h"
#include "model/validation.h"
#include "providers/weighted/weighted_provider.h"

namespace eg::config {
namespace {

namespace json = boost::json;
using testing::FakeRouteIndex;
using testing::FakeStore;
using testing::collected;
using testing::run;

json::value parse(std::string_view s) { return json::parse(s); }

class ServiceTest : public ::testing::Test {
 protected:
  ServiceTest() : index_(store_), service_(store_, index_, registry_) {
    testing::addFakeProviders(registry_);
    registry_.add("weighted", std::make_unique<providers::WeightedProviderFactory>());
  }

  Result<model::Function> createFunction(std::string space, std::string_view body) {
    return run(service_.createFunction(space, parse(body)));
  }
  void addFunction(std::string id, std::string space = "default") {
    auto r = createFunction(space, R"({"functionId":")" + id +
                                       R"(","type":"http","provider":{"url":"http://x"}})");
    ASSERT_TRUE(r) << r.error().message;
  }
  void addEventType(std::string name, std::string space = "default") {
    auto r = run(service_.createEventType(space, parse(R"({"name":")" + name + R"("})")));
    ASSERT_TRUE(r) << r.error().message;
  }
  Result<model::Subscription> subscribe(std::string_view body, std::string space = "default") {
    return run(service_.createSubscription(space, parse(body)));
  }
  std::string functionKey(std::string id) {
    return model::resourceKey(model::ResourceKind::kFunction, "default", id);
  }
  // A weighted function's body: `targets` is the JSON of provider.functions.
  static std::string weighted(std::string_view id, std::string_view targets,
                              std::string_view extra = "") {
    return R"({"functionId":")" + std::string(id) + R"(","type":"weighted","provider":{"functions":)" +
           std::string(targets) + std::string(extra) + "}}";
  }
  Result<model::Function> putFunction(std::string id, std::string_view body) {
    return run(service_.updateFunction("default", std::move(id), parse(body)));
  }
  // The stored form of a weighted function `id` calling `target`, as another instance
  // would write it.
  static std::string storedWeighted(std::string id, std::string target) {
    model::Function w;
    w.space = "default";
    w.functionId = std::move(id);
    w.type = "weighted";
    w.provider = parse(R"({"functions":[{"functionId":")" + target + R"(","weight":1}]})").as_object();
    return model::encodeStored(w);
  }

  FakeStore store_;
  FakeRouteIndex index_;
  providers::ProviderRegistry registry_;
  ConfigService service_;
};

void expectError(const Error& e, ErrorKind kind, std::string_view message) {
  EXPECT_EQ(e.kind, kind) << e.message;
  EXPECT_EQ(e.message, message);
}

template <class T>
void expectError(const Result<T>& r, ErrorKind kind, std::string_view message) {
  ASSERT_FALSE(r);
  expectError(r.error(), kind, message);
}

// ---- functions ----

TEST_F(ServiceTest, CreateFunctionReturnsTheApiShape) {
  auto r = createFunction("testspace", R"({"space":"ignored","functionId":"test","type":"awslambda",
      "provider":{"arn":"arn::::","region":"us-east-1"}})");
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(json::serialize(model::toJson(*r)),
            R"({"space":"testspace","functionId":"test","type":"awslambda","provider":{"arn":"arn::::","region":"us-east-1"}})");
}

TEST_F(ServiceTest, CreateFunctionTwiceIsAlreadyRegistered) {
  addFunction("test");
  auto r = createFunction("default", R"({"functionId":"test","type":"http","provider":{"url":"http://y"}})");
  expectError(r, ErrorKind::kAlreadyExists, R"(Function "test" already registered.)");
}

TEST_F(ServiceTest, CreateFunctionValidatesTypeAndProvider) {
  expectError(createFunction("default", R"({"functionId":"f","type":"nope","provider":{}})"),
              ErrorKind::kInvalid,
              R"(Function doesn't validate. Validation error: Field "type" has an unknown function type "nope".)");
  expectError(createFunction("default", R"({"functionId":"f","type":"http","provider":{}})"),
              ErrorKind::kInvalid,
              R"(Function doesn't validate. Validation error: Missing required field "url" in provider.)");
  expectError(createFunction("bad space", R"({"functionId":"f","type":"http","provider":{"url":"u"}})"),
              ErrorKind::kInvalid,
              R"(Space "bad space" is invalid: only letters, digits, ".", "-" and "_" are allowed.)");
}

TEST_F(ServiceTest, UpdateFunctionMayChangeTypeAndProvider) {
  addFunction("f");
  auto r = run(service_.updateFunction("default", "f", parse(R"({"functionId":"other","type":"awslambda",
      "provider":{"arn":"a","region":"r"},"metadata":{"team":"x"}})")));
  ASSERT_TRUE(r) << r.error().message;
  EXPECT_EQ(r->functionId, "f");
  EXPECT_EQ(r->type, "awslambda");
  auto got = run(service_.getFunction("default", "f"));
  ASSERT_TRUE(got);
  EXPECT_EQ(json::serialize(model::toJson(*got)), json::serialize(model::toJson(*r)));
}

TEST_F(ServiceTest, UpdateMissingFunctionIsNotFound) {
  auto r = run(service_.updateFunction("default", "hello",
                                       parse(R"({"type":"http","provider":{"url":"u"}})")));
  expectError(r, ErrorKind::kNotFound, R"(Function "hello" not found.)");
}

TEST_F(ServiceTest, DeleteFunction) {
  addFunction("f");
  EXPECT_TRUE(run(service_.deleteFunction("default", "f")));
  expectError(run(service_.deleteFunction("default", "missing-func")), ErrorKind::kNotFound,
              R"(Function "missing-func" not found.)");
  expectError(run(service_.getFunction("default", "f")), ErrorKind::kNotFound,
              R"(Function "f" not found.)");
}

TEST_F(ServiceTest, DeleteFunctionInUseBySubscriptionIsRefused) {
  addFunction("f");
  auto s = subscribe(R"({"event":"user.created","functionId":"f"})");
  ASSERT_TRUE(s) << s.error().message;
  expectError(run(service_.deleteFunction("default", "f")), ErrorKind::kInvalid,
              "Function \"f\" cannot be deleted because subscription \"" + s->subscriptionId +
                  "\" uses it.");
}

TEST_F(ServiceTest, DeleteFunctionUsedAsAuthorizerIsRefused) {
  addFunction("auth");
  auto e = run(service_.createEventType("default", parse(R"({"name":"e","authorizerId":"auth"})")));
  ASSERT_TRUE(e) << e.error().message;
  expectError(run(service_.deleteFunction("default", "auth")), ErrorKind::kInvalid,
              R"(Function "auth" cannot be deleted because it is the authorizer of event type "e".)");
}

TEST_F(ServiceTest, DeleteFunctionSeesASubscriptionCreatedAfterItsCheck) {
  addFunction("f");
  // A concurrent create (another instance) commits between the delete's in-use check and
  // its transaction: the delete's compare on the subscriptions fails and it looks again.
  auto sub = model::subscriptionFromRequest("default", parse(R"({"event":"e","functionId":"f"})"));
  ASSERT_TRUE(sub);
  store_.beforeNextTxn = [&] {
    store_.putNow(model::resourceKey(model::ResourceKind::kSubscription, "default", sub->subscriptionId),
                  model::encodeStored(*sub));
  };
  auto r = run(service_.deleteFunction("default", "f"));
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(store_.contents().count(functionKey("f")), 1u);
}

TEST_F(ServiceTest, DeleteFunctionSeesAnAuthorizerNamedAfterItsCheck) {
  addFunction("auth");
  model::EventType et;
  et.space = "default";
  et.name = "e";
  et.authorizerId = "auth";
  store_.beforeNextTxn = [&] {
    store_.putNow(model::resourceKey(model::ResourceKind::kEventType, "default", "e"),
                  model::encodeStored(et));
  };
  expectError(run(service_.deleteFunction("default", "auth")), ErrorKind::kInvalid,
              R"(Function "auth" cannot be deleted because it is the authorizer of event type "e".)");
}

TEST_F(ServiceTest, CreatesLeaveTheReferencedFunctionAndEventTypeUnchanged) {
  // So that creates referencing one function or event type never fail each other's compares.
  addFunction("f");
  addEventType("e");
  const auto eventTypeKey = model::resourceKey(model::ResourceKind::kEventType, "default", "e");
  const auto before = std::make_pair(store_.modRevision(functionKey("f")), store_.modRevision(eventTypeKey));
  ASSERT_TRUE(subscribe(R"({"type":"async","eventType":"e","functionId":"f"})"));
  EXPECT_EQ(std::make_pair(store_.modRevision(functionKey("f")), store_.modRevision(eventTypeKey)),
            before);
}

TEST_F(ServiceTest, ListFunctionsFiltersOnMetadata) {
  ASSERT_TRUE(createFunction("default", R"({"functionId":"a","type":"http","provider":{"url":"u"},"metadata":{"team":"x","env":"p"}})"));
  ASSERT_TRUE(createFunction("default", R"({"functionId":"b","type":"http","provider":{"url":"u"},"metadata":{"team":"y"}})"));
  ASSERT_TRUE(createFunction("default", R"({"functionId":"c","type":"http","provider":{"url":"u"}})"));
  ASSERT_TRUE(createFunction("other", R"({"functionId":"d","type":"http","provider":{"url":"u"}})"));

  auto all = collected(run(service_.listFunctions("default", {})));
  ASSERT_TRUE(all);
  EXPECT_EQ(all->size(), 3u);
  auto team = collected(run(service_.listFunctions("default", {{"team", "x"}})));
  ASSERT_TRUE(team);
  ASSERT_EQ(team->size(), 1u);
  EXPECT_EQ((*team)[0].functionId, "a");
  auto both = collected(run(service_.listFunctions("default", {{"team", "x"}, {"env", "q"}})));
  ASSERT_TRUE(both);
  EXPECT_TRUE(both->empty());
  auto none = collected(run(service_.listFunctions("empty", {})));
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->empty());
}

// A stored value that does not decode was not written by this API: the list goes on
// without it, in key order, instead of failing as a whole.
TEST_F(ServiceTest, ListSkipsAValueThatDoesNotDecode) {
  addFunction("a");
  addFunction("c");
  store_.putNow(functionKey("b"), "{not json");
  auto list = run(service_.listFunctions("default", {}));
  ASSERT_TRUE(list) << list.error().message;
  std::vector<std::optional<model::Function>> taken;
  while (!list->done()) taken.push_back(list->take());
  ASSERT_EQ(taken.size(), 3u);
  ASSERT_TRUE(taken[0]);
  EXPECT_EQ(taken[0]->functionId, "a");
  EXPECT_FALSE(taken[1]);
  ASSERT_TRUE(taken[2]);
  EXPECT_EQ(taken[2]->functionId, "c");
}

// ---- weighted functions (spec §3.10) ----

TEST_F(ServiceTest, WeightedFunctionIsStoredAsWritten) {
  addFunction("v1");
  addFunction("v2");
  auto r = createFunction("default", weighted("w", R"([{"functionId":"v1","weight":90},{"functionId":"v2","weight":10}])",
                                              R"(,"stickyBy":"header:X-User")"));
  ASSERT_TRUE(r) << r.error().message;
  const std::string expected =
      R"({"space":"default","functionId":"w","type":"weighted","provider":{"functions":[{"functionId":"v1","weight":90},{"functionId":"v2","weight":10}],"stickyBy":"header:X-User"}})";
  EXPECT_EQ(json::serialize(model::toJson(*r)), expected);
  auto got = run(service_.getFunction("default", "w"));
  ASSERT_TRUE(got);
  EXPECT_EQ(json::serialize(model::toJson(*got)), expected);
  // Without stickyBy, the output has none.
  auto plain = createFunction("default", weighted("w2", R"([{"functionId":"v1","weight":1}])"));
  ASSERT_TRUE(plain) << plain.error().message;
  EXPECT_FALSE(model::toJson(*plain).at("provider").as_object().contains("stickyBy"));
}

TEST_F(ServiceTest, WeightedProviderIsValidated) {
  addFunction("v1");
  expectError(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":0}])")),
              ErrorKind::kInvalid,
              R"(Function doesn't validate. Validation error: Field "provider.functions" must give at least one function a weight above 0.)");
  expectError(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":-3}])")),
              ErrorKind::kInvalid,
              R"(Function doesn't validate. Validation error: Field "provider.functions[0].weight" must be a whole number between 0 and 1000000.)");
  expectError(createFunction("default", R"({"functionId":"w","type":"weighted","provider":{}})"),
              ErrorKind::kInvalid,
              R"(Function doesn't validate. Validation error: Missing required field "functions" in provider.)");
  EXPECT_FALSE(store_.contents().count(functionKey("w")));
}

TEST_F(ServiceTest, WeightedTargetsMustExistAndNotBeWeighted) {
  addFunction("v1");
  expectError(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":1},{"functionId":"nope","weight":1}])")),
              ErrorKind::kInvalid, R"(Target function "nope" not found.)");
  expectError(createFunction("default", weighted("w", R"([{"functionId":"w","weight":1}])")),
              ErrorKind::kInvalid, R"(Weighted function "w" cannot call itself.)");
  ASSERT_TRUE(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":1}])")));
  expectError(createFunction("default", weighted("w2", R"([{"functionId":"w","weight":1}])")),
              ErrorKind::kInvalid,
              R"(Target function "w" is weighted: a weighted function calls functions that are not weighted.)");
  // A target of another space is not found.
  addFunction("v9", "other");
  expectError(createFunction("default", weighted("w3", R"([{"functionId":"v9","weight":1}])")),
              ErrorKind::kInvalid, R"(Target function "v9" not found.)");
  // The same checks on PUT.
  expectError(putFunction("w", weighted("w", R"([{"functionId":"w","weight":1}])")),
              ErrorKind::kInvalid, R"(Weighted function "w" cannot call itself.)");
  expectError(putFunction("w", weighted("w", R"([{"functionId":"gone","weight":1}])")),
              ErrorKind::kInvalid, R"(Target function "gone" not found.)");
  expectError(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":1}])")),
              ErrorKind::kAlreadyExists, R"(Function "w" already registered.)");
}

TEST_F(ServiceTest, APutOfTheWeightsChangesNothingElse) {
  addFunction("v1");
  addFunction("v2");
  ASSERT_TRUE(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":100},{"functionId":"v2","weight":0}])")));
  auto r = putFunction("w", weighted("w", R"([{"functionId":"v1","weight":0},{"functionId":"v2","weight":100}])"));
  ASSERT_TRUE(r) << r.error().message;
  auto got = run(service_.getFunction("default", "w"));
  ASSERT_TRUE(got);
  EXPECT_EQ(json::serialize(got->provider.at("functions")),
            R"([{"functionId":"v1","weight":0},{"functionId":"v2","weight":100}])");
}

TEST_F(ServiceTest, DeleteFunctionCalledByAWeightedFunctionIsRefused) {
  addFunction("v1");
  addFunction("v2");
  ASSERT_TRUE(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":1},{"functionId":"v2","weight":0}])")));
  // A weight of 0 still names the function: a PUT may give it traffic at any time.
  for (const char* target : {"v1", "v2"}) {
    expectError(run(service_.deleteFunction("default", target)), ErrorKind::kInvalid,
                "Function \"" + std::string(target) +
                    "\" cannot be deleted because weighted function \"w\" calls it.");
  }
  // Once no weighted function names it, it may go.
  ASSERT_TRUE(putFunction("w", weighted("w", R"([{"functionId":"v1","weight":1}])")));
  EXPECT_TRUE(run(service_.deleteFunction("default", "v2")));
  EXPECT_TRUE(run(service_.deleteFunction("default", "w")));
  EXPECT_TRUE(run(service_.deleteFunction("default", "v1")));
}

TEST_F(ServiceTest, ATargetCannotBeMadeWeighted) {
  addFunction("v1");
  addFunction("v2");
  ASSERT_TRUE(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":1}])")));
  expectError(putFunction("v1", weighted("v1", R"([{"functionId":"v2","weight":1}])")),
              ErrorKind::kInvalid,
              R"(Function "v1" cannot be made weighted because weighted function "w" calls it.)");
  // Any other change of a target is fine.
  ASSERT_TRUE(putFunction("v1", R"({"type":"awslambda","provider":{"arn":"a","region":"r"}})"));
  // A function no weighted function calls may become one.
  ASSERT_TRUE(putFunction("v2", weighted("v2", R"([{"functionId":"v1","weight":1}])")));
}

TEST_F(ServiceTest, DeleteTargetSeesAWeightedFunctionCreatedAfterItsCheck) {
  addFunction("v1");
  // Another instance creates a weighted function calling v1 between the delete's look
  // and its transaction: the delete's compare fails and the next look refuses.
  store_.beforeNextTxn = [&] { store_.putNow(functionKey("w"), storedWeighted("w", "v1")); };
  expectError(run(service_.deleteFunction("default", "v1")), ErrorKind::kInvalid,
              R"(Function "v1" cannot be deleted because weighted function "w" calls it.)");
  EXPECT_EQ(store_.contents().count(functionKey("v1")), 1u);
}

TEST_F(ServiceTest, CreateWeightedSeesItsTargetDeletedBeforeItCommits) {
  addFunction("v1");
  addFunction("v2");
  store_.beforeNextTxn = [&] { EXPECT_TRUE(run(store_.remove(functionKey("v2")))); };
  expectError(createFunction("default", weighted("w", R"([{"functionId":"v1","weight":1},{"functionId":"v2","weight":1}])")),
              ErrorKind::kInvalid, R"(Target function "v2" not found.)");
  EXPECT_FALSE(store_.contents().count(functionKey("w")));
}

TEST_F(ServiceTest, WeightedWriteSeesItsTargetMadeWeightedBeforeItCommits) {
  addFunction("v1");
  addFunction("v2");
  addFunction("w");
  // Another instance turns v2 into a weighted function between the PUT's check of its
  // targets and its transaction.
  store_.beforeNextTxn = [&] { store_.putNow(functionKey("v2"), storedWeighted("v2", "v1")); };
  expectError(putFunction("w", weighted("w", R"([{"functionId":"v2","weight":1}])")),
              ErrorKind::kInvalid,
              R"(Target function "v2" is weighted: a weighted function calls functions that are not weighted.)");
}

TEST_F(ServiceTest, MakingWeightedSeesAWeightedFunctionCallingItAfterItsCheck) {
  addFunction("v1");
  addFunction("v2");
  store_.beforeNextTxn = [&] { store_.putNow(functionKey("w"), storedWeighted("w", "v1")); };
  expectError(putFunction("v1", weighted("v1", R"([{"functionId":"v2","weight":1}])")),
              ErrorKind::kInvalid,
              R"(Function "v1" cannot be made weighted because weighted function "w" calls it.)");
}

TEST(MatchesFilters, ResourceWithoutMetadataNeverMatchesAFilter) {
  EXPECT_TRUE(matchesFilters(std::nullopt, {}));
  EXPECT_FALSE(matchesFilters(std::nullopt, {{"a", "b"}}));
  EXPECT_TRUE(matchesFilters(model::Metadata{{"a", "b"}}, {{"a", "b"}}));
  EXPECT_FALSE(matchesFilters(model::Metadata{{"a", "c"}}, {{"a", "b"}}));
}

// ---- event types ----

TEST_F(ServiceTest, EventTypeLifecycle) {
  auto e = run(service_.createEventType("testspace", parse(R"({"space":"testspace","name":"test.event"})")));
  ASSERT_TRUE(e);
  EXPECT_EQ(json::serialize(model::toJson(*e)), R"({"space":"testspace","name":"test.event"})");
  expectError(run(service_.createEventType("testspace", parse(R"({"name":"test.event"})"))),
              ErrorKind::kAlreadyExists, R"(Event Type "test.event" already exists.)");
  EXPECT_TRUE(run(service_.deleteEventType("testspace", "test.event")));
  expectError(run(service_.deleteEventType("testspace", "non.existing")), ErrorKind::kNotFound,
              R"(Event Type "non.existing" not found.)");
}

TEST_F(ServiceTest, EventTypeAuthorizerMustExist) {
  expectError(run(service_.createEventType("default", parse(R"({"name":"e","authorizerId":"nope"})"))),
              ErrorKind::kInvalid, R"(Authorizer function "nope" not found.)");
  addEventType("e");
  expectError(run(service_.updateEventType("default", "e", parse(R"({"authorizerId":"nope"})"))),
              ErrorKind::kInvalid, R"(Authorizer function "nope" not found.)");
  addFunction("auth");
  auto u = run(service_.updateEventType("default", "e", parse(R"({"name":"ignored","authorizerId":"auth"})")));
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(json::serialize(model::toJson(*u)), R"({"space":"default","name":"e","authorizerId":"auth"})");
  expectError(run(service_.updateEventType("default", "missing", parse("{}"))), ErrorKind::kNotFound,
              R"(Event Type "missing" not found.)");
}

TEST_F(ServiceTest, DeleteEventTypeSeesASubscriptionCreatedAfterItsCheck) {
  addFunction("f");
  addEventType("e");
  auto sub = model::subscriptionFromRequest(
      "default", parse(R"({"type":"async","eventType":"e","functionId":"f"})"));
  ASSERT_TRUE(sub);
  store_.beforeNextTxn = [&] {
    store_.putNow(model::resourceKey(model::ResourceKind::kSubscription, "default", sub->subscriptionId),
                  model::encodeStored(*sub));
  };
  expectError(run(service_.deleteEventType("default", "e")), ErrorKind::kInvalid,
              "Event Type \"e\" cannot be deleted because subscription \"" + sub->subscriptionId +
                  "\" uses it.");
}

TEST_F(ServiceTest, DeleteEventTypeInUseIsRefused) {
  addFunction("f");
  addEventType("e");
  auto s = subscribe(R"({"type":"async","eventType":"e","functionId":"f"})");
  ASSERT_TRUE(s);
  expectError(run(service_.deleteEventType("default", "e")), ErrorKind::kInvalid,
              "Event Type \"e\" cannot be deleted because subscription \"" + s->subscriptionId +
                  "\" uses it.");
  ASSERT_TRUE(run(service_.deleteSubscription("default", s->subscriptionId)));
  EXPECT_TRUE(run(service_.deleteEventType("default", "e")));
}

// ---- subscriptions ----

TEST_F(ServiceTest, Gen2AsyncSubscriptionAsTheSdkExpects) {
  addFunction("test", "testspace");
  addEventType("test.event", "testspace");
  auto s = subscribe(R"({"type":"async","eventType":"test.event","functionId":"test"})", "testspace");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(json::serialize(model::toJson(*s)),
            R"({"space":"testspace","subscriptionId":"YXN5bmMsdGVzdC5ldmVudCx0ZXN0LCUyRixQT1NU","type":"async","eventType":"test.event","functionId":"test","method":"POST","path":"/"})");
  expectError(subscribe(R"({"type":"async","eventType":"test.event","functionId":"test"})", "testspace"),
              ErrorKind::kAlreadyExists,
              R"(Subscription "YXN5bmMsdGVzdC5ldmVudCx0ZXN0LCUyRixQT1NU" already exists.)");
  EXPECT_TRUE(run(service_.deleteSubscription("testspace", s->subscriptionId)));
  expectError(run(service_.deleteSubscription("testspace", "xxx")), ErrorKind::kNotFound,
              R"(Subscription "xxx" not found.)");
}

TEST_F(ServiceTest, Gen2SubscriptionWithoutTypeHasTheFixedMessage) {
  expectError(subscribe(R"({"functionId":"none-exiting-function","eventType":"pageVisited"})"),
              ErrorKind::kInvalid,
              "Subscription doesn't validate. Validation error: Key: 'Subscription.Type' "
              "Error:Field validation for 'Type' failed on the 'required' tag");
}

TEST_F(ServiceTest, SubscriptionReferencesMustExist) {
  addEventType("e");
  expectError(subscribe(R"({"type":"async","eventType":"e","functionId":"nope"})"), ErrorKind::kInvalid,
              R"(Function "nope" not found.)");
  addFunction("f");
  expectError(subscribe(R"({"type":"sync","eventType":"missing","functionId":"f"})"),
              ErrorKind::kInvalid, R"(Event Type "missing" not found.)");
}

TEST_F(ServiceTest, Gen1CustomEventRegistersItsEventType) {
  addFunction("f");
  auto s = subscribe(R"({"event":"user.created","functionId":"f","path":"myteam"})");
  ASSERT_TRUE(s) << s.error().message;
  EXPECT_EQ(json::serialize(model::toJson(*s)),
            R"({"space":"default","subscriptionId":")" + s->subscriptionId +
                R"(","event":"user.created","functionId":"f","path":"/myteam"})");
  auto et = run(service_.getEventType("default", "user.created"));
  ASSERT_TRUE(et) << et.error().message;
  // A second function on the same event reuses the registered type.
  addFunction("g");
  ASSERT_TRUE(subscribe(R"({"event":"user.created","functionId":"g","path":"/myteam"})"));
  auto list = collected(run(service_.listSubscriptions("default", {})));
  ASSERT_TRUE(list);
  EXPECT_EQ(list->size(), 2u);
}

TEST_F(ServiceTest, Gen1HttpAndInvokeShapes) {
  addFunction("f");
  auto http = subscribe(R"({"event":"http","functionId":"f","method":"get","path":"/users/:id","cors":{}})");
  ASSERT_TRUE(http) << http.error().message;
  EXPECT_EQ(json::serialize(model::toJson(*http)),
            R"({"space":"default","subscriptionId":")" + http->subscriptionId +
                R"(","event":"http","functionId":"f","method":"GET","path":"/users/:id","cors":{"origins":["*"],"methods":["HEAD","GET","POST"],"headers":["Origin","Accept","Content-Type"],"allowCredentials":false}})");
  auto invoke = subscribe(R"({"event":"invoke","functionId":"f","path":"/users/:id"})");
  ASSERT_TRUE(invoke) << invoke.error().message;
  EXPECT_EQ(json::serialize(model::toJson(*invoke)),
            R"({"space":"default","subscriptionId":")" + invoke->subscriptionId +
                R"(","event":"invoke","functionId":"f","path":"/users/:id"})");
  // Any number of functions may be invokable on one path.
  addFunction("g");
  EXPECT_TRUE(subscribe(R"({"event":"invoke","functionId":"g","path":"/users/:id"})"));
}

TEST_F(ServiceTest, SyncPathConflicts) {
  addFunction("f");
  addFunction("g");
  addEventType("http.request");
  ASSERT_TRUE(subscribe(R"({"type":"sync","eventType":"http.request","functionId":"f","method":"GET","path":"/users/:id"})"));
  // The same route for another function has the same ID.
  auto same = subscribe(R"({"type":"sync","eventType":"http.request","functionId":"g","method":"GET","path":"/users/:id"})");
  ASSERT_FALSE(same);
  EXPECT_EQ(same.error().kind, ErrorKind::kAlreadyExists);
  auto staticVsParam = subscribe(R"({"type":"sync","eventType":"http.request","functionId":"g","method":"GET","path":"/users/me"})");
  ASSERT_FALSE(staticVsParam);
  EXPECT_EQ(staticVsParam.error().kind, ErrorKind::kInvalid);
  EXPECT_TRUE(staticVsParam.error().message.starts_with("Subscription path conflict: ")) << staticVsParam.error().message;
  auto otherName = subscribe(R"({"type":"sync","eventType":"http.request","functionId":"g","method":"GET","path":"/users/:name"})");
  ASSERT_FALSE(otherName);
  EXPECT_EQ(otherName.error().kind, ErrorKind::kInvalid);
  // Another method, or an async subscription, does not conflict.
  EXPECT_TRUE(subscribe(R"({"type":"sync","eventType":"http.request","functionId":"g","method":"POST","path":"/users/me"})"));
  EXPECT_TRUE(subscribe(R"({"type":"async","eventType":"http.request","functionId":"g","method":"GET","path":"/users/me"})"));
}

TEST_F(ServiceTest, SyncRoutesAreUniqueAcrossSpaces) {
  addFunction("f", "a");
  addFunction("f", "b");
  ASSERT_TRUE(subscribe(R"({"event":"http","functionId":"f","method":"GET","path":"/x"})", "a"));
  auto r = subscribe(R"({"event":"http","functionId":"f","method":"GET","path":"/x"})", "b");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
}

TEST_F(ServiceTest, SyncCreateOnALaggingIndexWaitsAndChecksAgain) {
  addFunction("f");
  index_.autoRefresh = false;
  ASSERT_TRUE(subscribe(R"({"event":"http","functionId":"f","method":"GET","path":"/a/:id"})"));
  // The index has not applied the first route: its check passes, the sentinel compare
  // fails, the service waits for the index and the second check sees the conflict.
  auto r = subscribe(R"({"event":"http","functionId":"f","method":"GET","path":"/a/static"})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_GE(index_.waits.load(), 1);
}

TEST_F(ServiceTest, DeletingASyncSubscriptionMovesTheRoutesSentinel) {
  addFunction("f");
  auto s = subscribe(R"({"event":"http","functionId":"f","method":"GET","path":"/a"})");
  ASSERT_TRUE(s);
  const std::string sentinel(model::kRoutesSentinelKey);
  const auto before = store_.modRevision(sentinel);
  ASSERT_TRUE(run(service_.deleteSubscription("default", s->subscriptionId)));
  EXPECT_GT(store_.modRevision(sentinel), before);
}

TEST_F(ServiceTest, SubscriptionUpdateMayOnlyChangeMetadata) {
  addFunction("f");
  addEventType("e");
  auto s = subscribe(R"({"type":"async","eventType":"e","functionId":"f","path":"/p"})");
  ASSERT_TRUE(s);
  auto u = run(service_.updateSubscription("default", s->subscriptionId,
                                           parse(R"({"type":"async","eventType":"e","functionId":"f","path":"/p","metadata":{"k":"v"}})")));
  ASSERT_TRUE(u) << u.error().message;
  ASSERT_TRUE(u->metadata);
  EXPECT_EQ(u->metadata->at("k"), "v");
  expectError(run(service_.updateSubscription("default", s->subscriptionId, parse(R"({"path":"/q"})"))),
              ErrorKind::kInvalid,
              R"(Subscription doesn't validate. Validation error: field "path" cannot be changed.)");
  expectError(run(service_.updateSubscription("default", "nope", parse("{}"))), ErrorKind::kNotFound,
              R"(Subscription "nope" not found.)");
  auto got = run(service_.getSubscription("default", s->subscriptionId));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->metadata->at("k"), "v");
}

// ---- delivery policies ----

TEST_F(ServiceTest, DeadLetterFunctionMustExist) {
  addFunction("f");
  addEventType("e");
  expectError(subscribe(R"({"type":"async","eventType":"e","functionId":"f","deliveryPolicy":{"deadLetterFunctionId":"dlq"}})"),
              ErrorKind::kInvalid, R"(Dead-letter function "dlq" not found.)");
  expectError(subscribe(R"({"event":"custom","functionId":"f","deliveryPolicy":{"deadLetterFunctionId":"dlq"}})"),
              ErrorKind::kInvalid, R"(Dead-letter function "dlq" not found.)");
  // Nothing was written by the refused creates (not even the implicit event type).
  EXPECT_FALSE(run(service_.getEventType("default", "custom")));
  // A function of another space does not count.
  addFunction("dlq", "other");
  expectError(subscribe(R"({"type":"async","eventType":"e","functionId":"f","deliveryPolicy":{"deadLetterFunctionId":"dlq"}})"),
              ErrorKind::kInvalid, R"(Dead-letter function "dlq" not found.)");

  addFunction("dlq");
  auto s = subscribe(R"({"type":"async","eventType":"e","functionId":"f","deliveryPolicy":{"deadLetterFunctionId":"dlq","retries":2}})");
  ASSERT_TRUE(s) << s.error().message;
  auto got = run(service_.getSubscription("default", s->subscriptionId));
  ASSERT_TRUE(got);
  EXPECT_EQ(json::serialize(model::toJson(*got)), json::serialize(model::toJson(*s)));
  EXPECT_EQ(json::serialize(model::toJson(*got).at("deliveryPolicy")),
            R"({"retries":2,"deadLetterFunctionId":"dlq"})");
}

TEST_F(ServiceTest, TheSubscriberMayBeItsOwnDeadLetter) {
  // One key named twice in a transaction is refused by the stores: pinned once.
  addFunction("f");
  auto s = subscribe(R"({"event":"e","functionId":"f","deliveryPolicy":{"deadLetterFunctionId":"f"}})");
  ASSERT_TRUE(s) << s.error().message;
  auto u = run(service_.updateSubscription("default", s->subscriptionId,
                                           parse(R"({"deliveryPolicy":{"deadLetterFunctionId":"f"}})")));
  ASSERT_TRUE(u) << u.error().message;
}

TEST_F(ServiceTest, DeleteFunctionNamedAsDeadLetterIsRefused) {
  addFunction("f");
  addFunction("dlq");
  auto s = subscribe(R"({"event":"e","functionId":"f","deliveryPolicy":{"deadLetterFunctionId":"dlq"}})");
  ASSERT_TRUE(s) << s.error().message;
  expectError(run(service_.deleteFunction("default", "dlq")), ErrorKind::kInvalid,
              "Function \"dlq\" cannot be deleted because subscription \"" + s->subscriptionId +
                  "\" uses it as its dead-letter function.");
  // The plain case keeps its message.
  expectError(run(service_.deleteFunction("default", "f")), ErrorKind::kInvalid,
              "Function \"f\" cannot be deleted because subscription \"" + s->subscriptionId +
                  "\" uses it.");
  // Once the policy no longer names it, it may go.
  ASSERT_TRUE(run(service_.updateSubscription("default", s->subscriptionId, parse("{}"))));
  EXPECT_TRUE(run(service_.deleteFunction("default", "dlq")));
}

TEST_F(ServiceTest, DeleteFunctionSeesADeadLetterNamedAfterItsCheck) {
  addFunction("f");
  addFunction("dlq");
  auto s = subscribe(R"({"event":"e","functionId":"f"})");
  ASSERT_TRUE(s);
  // A concurrent PUT (another instance) names "dlq" between the delete's check and its
  // transaction: the delete's compare on the subscriptions fails and the next look refuses.
  auto withPolicy = model::subscriptionUpdateFromRequest(*s, parse(R"({"deliveryPolicy":{"deadLetterFunctionId":"dlq"}})"));
  ASSERT_TRUE(withPolicy);
  store_.beforeNextTxn = [&] {
    store_.putNow(model::resourceKey(model::ResourceKind::kSubscription, "default", s->subscriptionId),
                  model::encodeStored(*withPolicy));
  };
  auto r = run(service_.deleteFunction("default", "dlq"));
  expectError(r, ErrorKind::kInvalid,
              "Function \"dlq\" cannot be deleted because subscription \"" + s->subscriptionId +
                  "\" uses it as its dead-letter function.");
  EXPECT_EQ(store_.contents().count(functionKey("dlq")), 1u);
}

TEST_F(ServiceTest, CreateSeesItsDeadLetterFunctionDeletedBeforeItCommits) {
  addFunction("f");
  addFunction("dlq");
  // Another instance deletes the function between the create's read and its transaction:
  // the create's compare fails and the next look refuses.
  store_.beforeNextTxn = [&] { EXPECT_TRUE(run(store_.remove(functionKey("dlq")))); };
  expectError(subscribe(R"({"event":"e","functionId":"f","deliveryPolicy":{"deadLetterFunctionId":"dlq"}})"),
              ErrorKind::kInvalid, R"(Dead-letter function "dlq" not found.)");
}

TEST_F(ServiceTest, PutChangesTheDeliveryPolicy) {
  addFunction("f");
  addFunction("dlq");
  addEventType("e");
  auto s = subscribe(R"({"type":"async","eventType":"e","functionId":"f","deliveryPolicy":{"retries":1}})");
  ASSERT_TRUE(s) << s.error().message;
  auto u = run(service_.updateSubscription("default", s->subscriptionId,
      parse(R"({"deliveryPolicy":{"backoff":"linear","maxEventAge":"1h","deadLetterFunctionId":"dlq"}})")));
  ASSERT_TRUE(u) << u.error().message;
  auto got = run(service_.getSubscription("default", s->subscriptionId));
  ASSERT_TRUE(got);
  EXPECT_EQ(json::serialize(model::toJson(*got).at("deliveryPolicy")),
            R"({"backoff":"linear","maxEventAge":"1h","deadLetterFunctionId":"dlq"})");
  // Absent: removed, as metadata.
  auto cleared = run(service_.updateSubscription("default", s->subscriptionId, parse(R"({"metadata":{"a":"b"}})")));
  ASSERT_TRUE(cleared);
  got = run(service_.getSubscription("default", s->subscriptionId));
  ASSERT_TRUE(got);
  EXPECT_FALSE(got->deliveryPolicy);
  EXPECT_FALSE(model::toJson(*got).contains("deliveryPolicy"));
}

TEST_F(ServiceTest, PutWithAMissingDeadLetterIsRefused) {
  addFunction("f");
  auto s = subscribe(R"({"event":"e","functionId":"f","deliveryPolicy":{"retries":4}})");
  ASSERT_TRUE(s);
  expectError(run(service_.updateSubscription("default", s->subscriptionId,
                                              parse(R"({"deliveryPolicy":{"deadLetterFunctionId":"nope"}})"))),
              ErrorKind::kInvalid, R"(Dead-letter function "nope" not found.)");
  auto got = run(service_.getSubscription("default", s->subscriptionId));
  ASSERT_TRUE(got);
  ASSERT_TRUE(got->deliveryPolicy);
  EXPECT_EQ(got->deliveryPolicy->retries, 4);  // unchanged
  expectError(run(service_.updateSubscription("default", s->subscriptionId,
                                              parse(R"({"deliveryPolicy":{"retries":"many"}})"))),
              ErrorKind::kInvalid,
              R"(Subscription doesn't validate. Validation error: Field "deliveryPolicy.retries" must be an integer between 0 and 1000.)");
}

TEST_F(ServiceTest, PutRetriesWhenTheDeadLetterChangesMeanwhile) {
  addFunction("f");
  addFunction("dlq");
  auto s = subscribe(R"({"event":"e","functionId":"f"})");
  ASSERT_TRUE(s);
  // The dead-letter function is rewritten between the read and the transaction: the
  // compare fails, the next attempt reads it again and succeeds.
  store_.beforeNextTxn = [&] {
    store_.putNow(functionKey("dlq"), store_.contents().at(functionKey("dlq")).value);
  };
  const int txnsBefore = store_.txns.load();
  auto u = run(service_.updateSubscription("default", s->subscriptionId,
                                           parse(R"({"deliveryPolicy":{"deadLetterFunctionId":"dlq"}})")));
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_EQ(store_.txns.load() - txnsBefore, 2);
}

// ---- durability ----

TEST_F(ServiceTest, AWriteIsAnsweredOnceDurableAndTheNextWriteGoesOnMeanwhile) {
  store_.holdDurable = true;
  asio::io_context ioc;
  std::vector<std::optional<Result<model::Function>>> answers(2);
  for (int i = 0; i < 2; ++i) {
    asio::co_spawn(
        ioc,
        [&, i]() -> asio::awaitable<void> {
          answers[i].emplace(co_await service_.createFunction(
              "default", parse(R"({"functionId":"f)" + std::to_string(i) +
                               R"(","type":"http","provider":{"url":"http://x"}})")));
        },
        asio::detached);
  }
  // Both are applied, the second while the first waits for its sync; neither is answered.
  for (int i = 0; i < 5000 && store_.durableAsked().size() < 2; ++i) {
    ioc.run_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(store_.txns.load(), 2);
  EXPECT_EQ(store_.durableAsked(), (std::vector<int64_t>{1, 2}));
  ioc.run_for(std::chrono::milliseconds(20));
  EXPECT_FALSE(answers[0]);
  EXPECT_FALSE(answers[1]);

  store_.holdDurable = false;
  ioc.run_for(std::chrono::seconds(5));
  ASSERT_TRUE(answers[0] && answers[1]);
  EXPECT_TRUE(*answers[0]);
  EXPECT_TRUE(*answers[1]);
}

TEST_F(ServiceTest, AWriteThatCouldNotBeMadeDurableIsNotAcknowledged) {
  store_.failDurable = true;
  auto r = createFunction("default", R"({"functionId":"f","type":"http","provider":{"url":"http://x"}})");
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().kind, ErrorKind::kUnavailable) << r.error().message;
  // CORS writes take the same path.
  auto c = run(service_.createCors("default", parse(R"({"method":"GET","path":"/c"})")));
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kUnavailable) << c.error().message;
  EXPECT_EQ(store_.durableAsked().size(), 2u);
}

// ---- CORS ----

TEST_F(ServiceTest, CorsLifecycleAsTheSdkExpects) {
  auto c = run(service_.createCors("testspace", parse(R"({"method":"GET","path":"/test","allowedOrigins":["http://example.com"]})")));
  ASSERT_TRUE(c) << c.error().message;
  EXPECT_EQ(json::serialize(model::toJson(*c)),
            R"({"space":"testspace","corsId":"GET%2Ftest","method":"GET","path":"/test","allowedOrigins":["http://example.com"],"allowedMethods":["HEAD","GET","POST"],"allowedHeaders":["Origin","Accept","Content-Type"],"allowCredentials":false})");
  expectError(run(service_.createCors("testspace", parse(R"({"method":"GET","path":"/test"})"))),
              ErrorKind::kAlreadyExists, R"(CORS configuration "GET%2Ftest" already exists.)");
  auto u = run(service_.updateCors("testspace", "GET%2Ftest", parse(R"({"allowCredentials":true})")));
  ASSERT_TRUE(u) << u.error().message;
  EXPECT_TRUE(u->rules.allowCredentials);
  EXPECT_EQ(u->rules.origins, std::vector<std::string>{"*"});
  expectError(run(service_.updateCors("testspace", "GET%2Ftest", parse(R"({"path":"/other"})"))),
              ErrorKind::kInvalid,
              R"(CORS configuration doesn't validate. Validation error: field "path" cannot be changed.)");
  EXPECT_TRUE(run(service_.deleteCors("testspace", "GET%2Ftest")));
  expectError(run(service_.deleteCors("testspace", "GET%2Ftest")), ErrorKind::kNotFound,
              R"(CORS configuration "GET%2Ftest" not found.)");
  expectError(run(service_.updateCors("testspace", "GET%2Ftest", parse("{}"))), ErrorKind::kNotFound,
              R"(CORS configuration "GET%2Ftest" not found.)");
}

// ---- store failures ----

TEST_F(ServiceTest, UnavailableStoreIsA503Error) {
  store_.unavailable = true;
  auto r = collected(run(service_.listFunctions("default", {})));
  expectError(r, ErrorKind::kUnavailable, "Configuration store unavailable: connection refused");
  auto c = createFunction("default", R"({"functionId":"f","type":"http","provider":{"url":"u"}})");
  ASSERT_FALSE(c);
  EXPECT_EQ(c.error().kind, ErrorKind::kUnavailable);
}

TEST(StoreError, OtherKindsAreInternal) {
  auto e = storeError(Error::internal("disk I/O error"));
  EXPECT_EQ(e.kind, ErrorKind::kInternal);
  EXPECT_EQ(e.message, "Configuration store error: disk I/O error");
}

// ---- concurrency ----

template <class T>
std::pair<int, int> countOkAnd(const std::vector<Result<T>>& results, ErrorKind kind) {
  int ok = 0, other = 0;
  for (const auto& r : results) {
    if (r) ++ok;
    else if (r.error().kind == kind) ++other;
    else ADD_FAILURE() << r.error().message;
  }
  return {ok, other};
}

TEST_F(ServiceTest, ConcurrentCreatesOfOneFunctionAdmitExactlyOne) {
  auto results = testing::concurrently<Result<model::Function>>(20, [&](int) {
    return service_.createFunction("default", parse(R"({"functionId":"f","type":"http","provider":{"url":"u"}})"));
  });
  EXPECT_EQ(countOkAnd(results, ErrorKind::kAlreadyExists), std::make_pair(1, 19));
}

TEST_F(ServiceTest, ConcurrentCreatesOfOneSubscriptionAdmitExactlyOne) {
  addFunction("f");
  auto results = testing::concurrently<Result<model::Subscription>>(20, [&](int) {
    return service_.createSubscription("default", parse(R"({"event":"e","functionId":"f"})"));
  });
  EXPECT_EQ(countOkAnd(results, ErrorKind::kAlreadyExists), std::make_pair(1, 19));
}

TEST_F(ServiceTest, ConcurrentConflictingSyncRoutesAdmitExactlyOne) {
  addFunction("f");
  auto results = testing::concurrently<Result<model::Subscription>>(16, [&](int i) {
    return service_.createSubscription(
        "default", parse(R"({"event":"http","functionId":"f","method":"GET","path":"/r/:p)" +
                         std::to_string(i) + R"("})"));
  });
  EXPECT_EQ(countOkAnd(results, ErrorKind::kInvalid), std::make_pair(1, 15));
}

TEST_F(ServiceTest, ConcurrentSubscriptionsOfOneFunctionAllSucceed) {
  addFunction("f");
  auto results = testing::concurrently<Result<model::Subscription>>(16, [&](int i) {
    return service_.createSubscription(
        "default", parse(R"({"event":"e)" + std::to_string(i) + R"(","functionId":"f"})"));
  });
  EXPECT_EQ(countOkAnd(results, ErrorKind::kUnavailable), std::make_pair(16, 0));
}

TEST_F(ServiceTest, ConcurrentWritesOfOneInstanceNeverFailEachOthersCompares) {
  // Every sync create compares and bumps the routes sentinel, and every update of one
  // subscription compares its revision: run at once, they would collide.
  addFunction("f");
  auto sub = subscribe(R"({"event":"e","functionId":"f"})");
  ASSERT_TRUE(sub);
  const int txnsBefore = store_.txns.load();
  auto creates = testing::concurrently<Result<model::Subscription>>(16, [&](int i) {
    return service_.createSubscription(
        "default", parse(R"({"event":"http","functionId":"f","method":"GET","path":"/r)" +
                         std::to_string(i) + R"("})"));
  });
  auto updates = testing::concurrently<Result<model::Subscription>>(16, [&](int i) {
    return service_.updateSubscription(
        "default", sub->subscriptionId,
        parse(R"({"metadata":{"n":")" + std::to_string(i) + R"("}})"));
  });
  EXPECT_EQ(countOkAnd(creates, ErrorKind::kUnavailable), std::make_pair(16, 0));
  EXPECT_EQ(countOkAnd(updates, ErrorKind::kUnavailable), std::make_pair(16, 0));
  EXPECT_EQ(store_.txns.load() - txnsBefore, 32);  // not one transaction failed
}

}  // namespace
}  // namespace eg::config
