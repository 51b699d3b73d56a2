#include "config/api_router.h"

#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "config/fakes.h"

namespace eg::config {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;
using testing::run;

class ApiRouterTest : public ::testing::Test {
 protected:
  ApiRouterTest() : index_(store_), service_(store_, index_, registry_), router_(service_, store_, metrics_) {
    testing::addFakeProviders(registry_);
  }

  net::Response call(http::verb method, std::string target, std::string body = "") {
    net::Request req{method, target, 11};
    req.body() = std::move(body);
    req.prepare_payload();
    return run(net::collect(run(router_.handle(req))));
  }
  json::value bodyOf(const net::Response& res) { return json::parse(res.body()); }
  std::string messageOf(const net::Response& res) {
    return std::string(bodyOf(res).at("errors").at(0).at("message").as_string());
  }

  testing::FakeStore store_;
  testing::FakeRouteIndex index_;
  providers::ProviderRegistry registry_;
  metrics::Registry metrics_;
  ConfigService service_;
  ApiRouter router_;
};

constexpr const char* kFunctionBody =
    R"({"space":"testspace","functionId":"test","type":"awslambda","provider":{"arn":"arn::::","region":"us-east-1"}})";

TEST_F(ApiRouterTest, FunctionsAsTheSdkExpects) {
  auto list = call(http::verb::get, "/v1/spaces/testspace/functions");
  EXPECT_EQ(list.result_int(), 200);
  EXPECT_EQ(list.body(), R"({"functions":[]})");

  auto created = call(http::verb::post, "/v1/spaces/testspace/functions", kFunctionBody);
  EXPECT_EQ(created.result_int(), 201);
  EXPECT_EQ(created[http::field::content_type], "application/json");
  EXPECT_EQ(bodyOf(created), json::parse(kFunctionBody));

  auto again = call(http::verb::post, "/v1/spaces/testspace/functions", kFunctionBody);
  EXPECT_EQ(again.result_int(), 409);
  EXPECT_EQ(again[http::field::content_type], "application/json");
  EXPECT_EQ(messageOf(again), R"(Function "test" already registered.)");

  auto updated = call(http::verb::put, "/v1/spaces/testspace/functions/test",
                      R"({"functionId":"test","type":"awslambda","provider":{"arn":"arn::::","region":"us-west-1"}})");
  EXPECT_EQ(updated.result_int(), 200);
  EXPECT_EQ(bodyOf(updated).at("provider").at("region"), "us-west-1");

  auto one = call(http::verb::get, "/v1/spaces/testspace/functions/test");
  EXPECT_EQ(one.result_int(), 200);
  EXPECT_EQ(bodyOf(one), bodyOf(updated));

  auto deleted = call(http::verb::delete_, "/v1/spaces/testspace/functions/test");
  EXPECT_EQ(deleted.result_int(), 204);
  EXPECT_TRUE(deleted.body().empty());

  auto missing = call(http::verb::delete_, "/v1/spaces/testspace/functions/missing-func");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(missing.body(), R"({"errors":[{"message":"Function \"missing-func\" not found."}]})");
  EXPECT_EQ(call(http::verb::put, "/v1/spaces/testspace/functions/hello",
                 R"({"type":"http","provider":{"url":"u"}})").result_int(), 404);
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/testspace/functions/hello").result_int(), 404);
}

TEST_F(ApiRouterTest, BadBodiesAre400) {
  auto notJson = call(http::verb::post, "/v1/spaces/s/functions", "{nope");
  EXPECT_EQ(notJson.result_int(), 400);
  EXPECT_TRUE(messageOf(notJson).starts_with("Function doesn't validate. Validation error: request body is not valid JSON"))
      << messageOf(notJson);
  auto empty = call(http::verb::post, "/v1/spaces/s/subscriptions", "");
  EXPECT_EQ(empty.result_int(), 400);
  EXPECT_TRUE(messageOf(empty).starts_with("Subscription doesn't validate. Validation error: "));
  auto invalid = call(http::verb::post, "/v1/spaces/s/eventtypes", R"({"name":1})");
  EXPECT_EQ(invalid.result_int(), 400);
  EXPECT_EQ(messageOf(invalid), R"(Event Type doesn't validate. Validation error: Field "name" must be a string.)");
  auto badSpace = call(http::verb::get, "/v1/spaces/a%20b/functions");
  EXPECT_EQ(badSpace.result_int(), 400);
  EXPECT_EQ(messageOf(badSpace), R"(Space "a b" is invalid: only letters, digits, ".", "-" and "_" are allowed.)");
}

TEST_F(ApiRouterTest, UnknownPathsAndMethods) {
  auto unknown = call(http::verb::get, "/v1/spaces/s/widgets");
  EXPECT_EQ(unknown.result_int(), 404);
  EXPECT_EQ(unknown[http::field::content_type], "application/json");
  EXPECT_EQ(messageOf(unknown), "Not found: /v1/spaces/s/widgets.");
  EXPECT_EQ(call(http::verb::get, "/").result_int(), 404);
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/s/functions/a/b").result_int(), 404);

  auto collection = call(http::verb::delete_, "/v1/spaces/s/functions");
  EXPECT_EQ(collection.result_int(), 405);
  EXPECT_EQ(collection[http::field::allow], "GET, POST");
  auto item = call(http::verb::post, "/v1/spaces/s/functions/f");
  EXPECT_EQ(item.result_int(), 405);
  EXPECT_EQ(item[http::field::allow], "GET, PUT, DELETE");
  auto status = call(http::verb::post, "/v1/status");
  EXPECT_EQ(status.result_int(), 405);
  EXPECT_EQ(status[http::field::allow], "GET");
  // A trailing slash names the same resource.
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/s/functions/").result_int(), 200);
}

TEST_F(ApiRouterTest, EventTypesAndFilters) {
  EXPECT_EQ(call(http::verb::post, "/v1/spaces/testspace/eventtypes", R"({"space":"testspace","name":"test.event"})").result_int(), 201);
  auto list = call(http::verb::get, "/v1/spaces/testspace/eventtypes");
  EXPECT_EQ(list.body(), R"({"eventTypes":[{"space":"testspace","name":"test.event"}]})");
  auto filtered = call(http::verb::get, "/v1/spaces/testspace/eventtypes?metadata.foo=bar");
  EXPECT_EQ(filtered.body(), R"({"eventTypes":[]})");
  EXPECT_EQ(call(http::verb::post, "/v1/spaces/testspace/eventtypes",
                 R"({"name":"tagged","metadata":{"foo":"bar baz"}})").result_int(), 201);
  auto tagged = call(http::verb::get, "/v1/spaces/testspace/eventtypes?metadata.foo=bar%20baz&other=1");
  EXPECT_EQ(tagged.body(), R"({"eventTypes":[{"space":"testspace","name":"tagged","metadata":{"foo":"bar baz"}}]})");
  auto dup = call(http::verb::post, "/v1/spaces/testspace/eventtypes", R"({"name":"test.event"})");
  EXPECT_EQ(dup.result_int(), 409);
  EXPECT_EQ(messageOf(dup), R"(Event Type "test.event" already exists.)");
  EXPECT_EQ(call(http::verb::delete_, "/v1/spaces/testspace/eventtypes/test.event").result_int(), 204);
  auto gone = call(http::verb::delete_, "/v1/spaces/testspace/eventtypes/non.existing");
  EXPECT_EQ(gone.result_int(), 404);
  EXPECT_EQ(messageOf(gone), R"(Event Type "non.existing" not found.)");
}

TEST_F(ApiRouterTest, SubscriptionsAsTheSdkExpects) {
  call(http::verb::post, "/v1/spaces/testspace/eventtypes", R"({"space":"testspace","name":"test.event"})");
  call(http::verb::post, "/v1/spaces/testspace/functions", kFunctionBody);
  auto created = call(http::verb::post, "/v1/spaces/testspace/subscriptions",
                      R"({"type":"async","eventType":"test.event","functionId":"test"})");
  EXPECT_EQ(created.result_int(), 201);
  const auto expected = json::parse(
      R"({"space":"testspace","subscriptionId":"YXN5bmMsdGVzdC5ldmVudCx0ZXN0LCUyRixQT1NU","type":"async","eventType":"test.event","functionId":"test","method":"POST","path":"/"})");
  EXPECT_EQ(bodyOf(created), expected);
  EXPECT_EQ(bodyOf(call(http::verb::get, "/v1/spaces/testspace/subscriptions")),
            json::parse(R"({"subscriptions":[)" + json::serialize(expected) + "]}"));
  EXPECT_EQ(call(http::verb::delete_, "/v1/spaces/testspace/subscriptions/YXN5bmMsdGVzdC5ldmVudCx0ZXN0LCUyRixQT1NU").result_int(), 204);

  auto noType = call(http::verb::post, "/v1/spaces/testspace/subscriptions",
                     R"({"functionId":"none-exiting-function","eventType":"pageVisited"})");
  EXPECT_EQ(noType.result_int(), 400);
  EXPECT_EQ(messageOf(noType),
            "Subscription doesn't validate. Validation error: Key: 'Subscription.Type' Error:Field "
            "validation for 'Type' failed on the 'required' tag");
  auto missing = call(http::verb::delete_, "/v1/spaces/testspace/subscriptions/xxx");
  EXPECT_EQ(missing.result_int(), 404);
  EXPECT_EQ(messageOf(missing), R"(Subscription "xxx" not found.)");
  auto noFunction = call(http::verb::post, "/v1/spaces/testspace/subscriptions",
                         R"({"type":"async","eventType":"test.event","functionId":"nope"})");
  EXPECT_EQ(noFunction.result_int(), 400);
  EXPECT_EQ(messageOf(noFunction), R"(Function "nope" not found.)");
}

TEST_F(ApiRouterTest, CorsIdsAsTheSdkSendsThem) {
  auto created = call(http::verb::post, "/v1/spaces/testspace/cors",
                      R"({"method":"GET","path":"/test","allowedOrigins":["http://example.com"]})");
  EXPECT_EQ(created.result_int(), 201);
  EXPECT_EQ(bodyOf(created), json::parse(R"({"space":"testspace","corsId":"GET%2Ftest","method":"GET","path":"/test",
      "allowedOrigins":["http://example.com"],"allowedHeaders":["Origin","Accept","Content-Type"],
      "allowedMethods":["HEAD","GET","POST"],"allowCredentials":false})"));
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/testspace/cors?metadata.foo=bar").body(), R"({"cors":[]})");
  // The SDK puts the ID into the URL as it is; a client that escapes it works too.
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/testspace/cors/GET%2Ftest").result_int(), 200);
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/testspace/cors/GET%252Ftest").result_int(), 200);
  auto dup = call(http::verb::post, "/v1/spaces/testspace/cors", R"({"method":"GET","path":"/test"})");
  EXPECT_EQ(messageOf(dup), R"(CORS configuration "GET%2Ftest" already exists.)");
  EXPECT_EQ(call(http::verb::delete_, "/v1/spaces/testspace/cors/GET%2Ftest").result_int(), 204);
  auto gone = call(http::verb::delete_, "/v1/spaces/testspace/cors/GET%2Ftest");
  EXPECT_EQ(gone.result_int(), 404);
  EXPECT_EQ(messageOf(gone), R"(CORS configuration "GET%2Ftest" not found.)");
}

// Records each piece of a streamed body; refuses every write after the first `accept`,
// as the connection does once its client is gone.
class PieceWriter final : public net::BodyWriter {
 public:
  explicit PieceWriter(std::size_t accept = std::numeric_limits<std::size_t>::max())
      : accept_(accept) {}
  boost::asio::awaitable<bool> write(std::string_view data) override {
    if (pieces.size() >= accept_) {
      ++refused;
      co_return false;
    }
    pieces.emplace_back(data);
    co_return true;
  }
  std::vector<std::string> pieces;
  int refused = 0;

 private:
  std::size_t accept_;
};

bool produce(net::Reply& reply, net::BodyWriter& out) {
  return run([&]() -> boost::asio::awaitable<bool> {
    co_await reply.body(out);
    co_return true;
  }());
}

TEST_F(ApiRouterTest, ListsAreStreamedInPiecesWithTheWholeListsBytes) {
  // Enough functions for several pieces of 16 KiB; IDs in key order.
  json::array all;
  json::array even;
  for (int i = 0; i < 1000; ++i) {
    char id[8];
    std::snprintf(id, sizeof id, "f%04d", i);
    const std::string body = R"({"functionId":")" + std::string(id) +
                             R"(","type":"http","provider":{"url":"http://x/)" +
                             std::string(100, 'u') + R"("},"metadata":{"team":")" +
                             (i % 2 == 0 ? "even" : "odd") + R"("}})";
    auto created = call(http::verb::post, "/v1/spaces/s/functions", body);
    ASSERT_EQ(created.result_int(), 201) << created.body();
    all.push_back(bodyOf(created));
    if (i % 2 == 0) even.push_back(bodyOf(created));
  }

  net::Request req{http::verb::get, "/v1/spaces/s/functions", 11};
  net::Reply reply = run(router_.handle(req));
  ASSERT_TRUE(reply.streamed());
  EXPECT_EQ(reply.response.result_int(), 200);
  EXPECT_EQ(reply.response[http::field::content_type], "application/json");
  EXPECT_EQ(reply.response.count(http::field::content_length), 0u);
  PieceWriter writer;
  ASSERT_TRUE(produce(reply, writer));
  ASSERT_GT(writer.pieces.size(), 2u);
  std::string whole;
  for (std::size_t i = 0; i < writer.pieces.size(); ++i) {
    if (i + 1 < writer.pieces.size()) {
      // A piece is written once it reaches 16 KiB, so it is at most one function over.
      EXPECT_GE(writer.pieces[i].size(), 16u * 1024) << i;
      EXPECT_LT(writer.pieces[i].size(), 16u * 1024 + 512) << i;
    }
    whole += writer.pieces[i];
  }
  // The bytes boost::json::serialize wrote when lists were answered whole.
  EXPECT_EQ(whole, json::serialize(json::object{{"functions", all}}));

  EXPECT_EQ(call(http::verb::get, "/v1/spaces/s/functions?metadata.team=even").body(),
            json::serialize(json::object{{"functions", even}}));
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/s/functions?metadata.team=none").body(),
            R"({"functions":[]})");
}

TEST_F(ApiRouterTest, AListStopsWritingOnceItsClientIsGone) {
  for (int i = 0; i < 1000; ++i) {
    const std::string body = R"({"functionId":"f)" + std::to_string(i) +
                             R"(","type":"http","provider":{"url":"http://x/)" +
                             std::string(200, 'u') + R"("}})";
    ASSERT_EQ(call(http::verb::post, "/v1/spaces/s/functions", body).result_int(), 201);
  }
  net::Request req{http::verb::get, "/v1/spaces/s/functions", 11};
  net::Reply reply = run(router_.handle(req));
  ASSERT_TRUE(reply.streamed());
  PieceWriter writer(1);
  ASSERT_TRUE(produce(reply, writer));
  EXPECT_EQ(writer.pieces.size(), 1u);
  EXPECT_EQ(writer.refused, 1);
}

TEST_F(ApiRouterTest, AListThatCannotBeReadIsAnErrorAnsweredWhole) {
  store_.unavailable = true;
  net::Request req{http::verb::get, "/v1/spaces/s/subscriptions", 11};
  net::Reply reply = run(router_.handle(req));
  EXPECT_FALSE(reply.streamed());
  EXPECT_EQ(reply.response.result_int(), 503);
  EXPECT_EQ(messageOf(reply.response), "Configuration store unavailable: connection refused");
}

TEST(CorsIdFromSegment, DecodesOnlyWhenTheResultIsAnId) {
  EXPECT_EQ(corsIdFromSegment("GET%2Ftest"), "GET%2Ftest");
  EXPECT_EQ(corsIdFromSegment("GET%252Ftest"), "GET%2Ftest");
  EXPECT_EQ(corsIdFromSegment("GET%2F"), "GET%2F");
  EXPECT_EQ(corsIdFromSegment("GET"), "GET");
}

TEST_F(ApiRouterTest, StatusReportsTheStore) {
  auto ok = call(http::verb::get, "/v1/status");
  EXPECT_EQ(ok.result_int(), 200);
  EXPECT_EQ(ok.body(), R"({"status":"ok","store":{"backend":"fake","healthy":true}})");
  store_.unavailable = true;
  auto down = call(http::verb::get, "/v1/status");
  EXPECT_EQ(down.result_int(), 503);
  EXPECT_EQ(down.body(), R"({"status":"unavailable","store":{"backend":"fake","healthy":false}})");
  auto list = call(http::verb::get, "/v1/spaces/s/functions");
  EXPECT_EQ(list.result_int(), 503);
  EXPECT_EQ(messageOf(list), "Configuration store unavailable: connection refused");
}

TEST_F(ApiRouterTest, MetricsCountRequests) {
  call(http::verb::post, "/v1/spaces/s1/functions", R"({"functionId":"f","type":"http","provider":{"url":"u"}})");
  call(http::verb::get, "/v1/spaces/s1/functions/f");
  call(http::verb::get, "/v1/spaces/s1/functions/f");
  call(http::verb::post, "/v1/spaces/s1/functions", "{bad");
  for (auto target : {"/v1/metrics", "/metrics"}) {
    auto res = call(http::verb::get, target);
    EXPECT_EQ(res.result_int(), 200);
    EXPECT_EQ(res[http::field::content_type], "text/plain; version=0.0.4; charset=utf-8");
    const auto& text = res.body();
    EXPECT_NE(text.find(R"(eventgateway_config_requests_total{space="s1",resource="function",operation="get"} 2)"),
              std::string::npos) << text;
    EXPECT_NE(text.find(R"(eventgateway_config_requests_total{space="s1",resource="function",operation="create"} 2)"),
              std::string::npos) << text;
    EXPECT_NE(text.find("eventgateway_config_request_duration_seconds_count 3"), std::string::npos) << text;
  }
}

TEST(RenderResourceCounts, OneGaugePerSpace) {
  std::map<std::string, routing::SpaceCounts, std::less<>> counts;
  counts["a"] = {2, 1, 3};
  counts["b\"x"] = {0, 0, 1};
  std::string out;
  renderResourceCounts(out, counts);
  EXPECT_NE(out.find("# TYPE eventgateway_functions_total gauge\n"), std::string::npos);
  EXPECT_NE(out.find("eventgateway_functions_total{space=\"a\"} 2\n"), std::string::npos);
  EXPECT_NE(out.find("eventgateway_eventtypes_total{space=\"a\"} 1\n"), std::string::npos);
  EXPECT_NE(out.find("eventgateway_subscriptions_total{space=\"a\"} 3\n"), std::string::npos);
  EXPECT_NE(out.find("eventgateway_subscriptions_total{space=\"b\\\"x\"} 1\n"), std::string::npos);
  std::string empty;
  renderResourceCounts(empty, {});
  EXPECT_NE(empty.find("# HELP eventgateway_subscriptions_total"), std::string::npos);
}

TEST(HttpStatus, Kinds) {
  EXPECT_EQ(httpStatus(ErrorKind::kInvalid), 400u);
  EXPECT_EQ(httpStatus(ErrorKind::kNotFound), 404u);
  EXPECT_EQ(httpStatus(ErrorKind::kAlreadyExists), 409u);
  EXPECT_EQ(httpStatus(ErrorKind::kConflict), 409u);
  EXPECT_EQ(httpStatus(ErrorKind::kTooLarge), 413u);
  EXPECT_EQ(httpStatus(ErrorKind::kUnavailable), 503u);
  EXPECT_EQ(httpStatus(ErrorKind::kTimeout), 503u);
  EXPECT_EQ(httpStatus(ErrorKind::kInternal), 500u);
}

}  // namespace
}  // namespace eg::config
