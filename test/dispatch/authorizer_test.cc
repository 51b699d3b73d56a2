#include "dispatch/authorizer.h"

#include <gtest/gtest.h>

#include "events/gateway_event.h"
#include "events/request_to_event.h"

namespace eg::dispatch {
namespace {

namespace json = boost::json;

TEST(AuthorizerPayload, EmbedsEventAndRequest) {
  const auto text = authorizerPayload(R"({"eventType":"a"})", R"({"path":"/"})");
  const auto v = json::parse(text);
  EXPECT_EQ(v.at("event").at("eventType"), "a");
  EXPECT_EQ(v.at("request").at("path"), "/");
}

TEST(ParseAuthorizerResult, Authorization) {
  auto r = parseAuthorizerResult(
      R"({"authorization":{"principalId":"user1","context":{"role":"admin"}}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("principalId"), "user1");
  EXPECT_EQ(r->at("context").at("role"), "admin");

  r = parseAuthorizerResult(R"({"authorization":{"principalId":"u"}})");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->contains("context"));

  r = parseAuthorizerResult(R"({"authorization":{}})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->at("principalId"), "");
}

TEST(ParseAuthorizerResult, ErrorCarriesItsMessage) {
  auto r = parseAuthorizerResult(R"({"error":{"message":"token expired"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(r.error().message, "token expired");

  // An error wins over an authorization.
  r = parseAuthorizerResult(
      R"({"authorization":{"principalId":"u"},"error":{"message":"no"}})");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().message, "no");
}

TEST(ParseAuthorizerResult, AnythingElseIsUnauthorised) {
  for (const char* bad : {"", "garbage", "[]", "null", "{}", R"({"authorization":null})",
                          R"({"authorization":"yes"})",
                          R"({"authorization":{"principalId":5}})",
                          R"({"authorization":{"principalId":"u","context":{"n":1}}})",
                          R"({"authorization":{"principalId":"u","context":[]}})"}) {
    EXPECT_FALSE(parseAuthorizerResult(bad).ok()) << bad;
  }
}

TEST(AttachAuthorization, KeepsOtherEventgatewayKeys) {
  events::CloudEvent event;
  event.extensions["eventgateway"] = json::object{{"transformed", "true"}};
  event.extensions["other"] = 1;
  attachAuthorization(event, json::object{{"principalId", "p"}});
  EXPECT_EQ(event.extensions.at("eventgateway").at("transformed"), "true");
  EXPECT_EQ(event.extensions.at("eventgateway").at("authorization").at("principalId"), "p");
  EXPECT_EQ(event.extensions.at("other"), 1);

  events::CloudEvent bare;
  attachAuthorization(bare, json::object{{"principalId", "q"}});
  EXPECT_EQ(bare.extensions.at("eventgateway").at("authorization").at("principalId"), "q");

  // A gateway-built event keeps its marker next to the authorization.
  events::CloudEvent built = events::gatewayEvent("http.request");
  attachAuthorization(built, json::object{{"principalId", "r"}});
  const auto sent = json::parse(events::serialize(built));
  const auto& eventgateway = sent.at("extensions").at("eventgateway");
  EXPECT_EQ(eventgateway.at("transformed"), "true");
  EXPECT_EQ(eventgateway.at("transformation-version"), "0.1");
  EXPECT_EQ(eventgateway.at("authorization").at("principalId"), "r");
}

TEST(AuthorizedPayload, AttachesToTheEventsJsonAndKeepsTheRest) {
  events::CloudEvent built = events::gatewayEvent("http.request");
  built.data = json::parse(R"({"path":"/a","n":1.5})");
  const std::string text = events::serialize(built);
  auto withAuthorization = authorizedPayload(text, json::object{{"principalId", "p"}});
  ASSERT_TRUE(withAuthorization.ok()) << withAuthorization.error().message;
  auto sent = json::parse(*withAuthorization).as_object();
  EXPECT_EQ(sent.at("extensions").at("eventgateway").at("authorization").at("principalId"), "p");
  EXPECT_EQ(sent.at("extensions").at("eventgateway").at("transformed"), "true");
  // Everything else is the event as it was.
  sent["extensions"].as_object()["eventgateway"].as_object().erase("authorization");
  EXPECT_EQ(json::value(sent), json::parse(text));

  for (std::string_view bad : {"not json", R"({"eventType":"a"})", "[]"}) {
    auto r = authorizedPayload(bad, json::object{{"principalId", "p"}});
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInternal) << bad;
  }
}

TEST(AuthorizedPayload, AGatewayBuiltEventGetsTheSameBytesWithoutBeingReadBack) {
  auto request = net::Request{boost::beast::http::verb::post, "/hook?x=1", 11};
  request.set("Host", "localhost");
  request.set("Content-Type", "application/json");
  // The marker's text inside the client's data must not be taken for the event's own.
  request.body() =
      R"({"extensions":{"eventgateway":{"transformed":"true","transformation-version":"0.1"}},"data":1})";
  request.prepare_payload();
  auto incoming = events::eventFromRequest(request, "/hook");
  ASSERT_TRUE(incoming.ok());
  ASSERT_TRUE(incoming->gatewayBuilt);
  const std::string text = events::takeEventJson(*incoming);
  const json::object authorization{{"principalId", "p"}, {"context", json::object{{"k", "v"}}}};
  auto fast = authorizedPayload(text, authorization, true);
  auto slow = authorizedPayload(text, authorization, false);
  ASSERT_TRUE(fast.ok() && slow.ok());
  EXPECT_EQ(*fast, *slow);
  const auto sent = json::parse(*fast);
  EXPECT_EQ(sent.at("extensions").at("eventgateway").at("authorization").at("principalId"), "p");
  EXPECT_EQ(sent.at("data").at("body"), json::parse(request.body()));
}

TEST(AuthorizedPayload, A10EventCarriesTheDecisionAsAnExtensionAttribute) {
  const std::string text =
      R"({"specversion":"1.0","id":"1","source":"/s","type":"t","ext":"v","data":{"a":1}})";
  auto withAuthorization = authorizedPayload(
      text, json::object{{"principalId", "p"}, {"context", json::object{{"k", "v"}}}});
  ASSERT_TRUE(withAuthorization.ok()) << withAuthorization.error().message;
  auto sent = json::parse(*withAuthorization).as_object();
  ASSERT_TRUE(sent.at(kAuthorizationExtension).is_string());
  EXPECT_EQ(json::parse(sent.at(kAuthorizationExtension).as_string()),
            json::parse(R"({"principalId":"p","context":{"k":"v"}})"));
  sent.erase(kAuthorizationExtension);
  EXPECT_EQ(json::value(sent), json::parse(text));
}

}  // namespace
}  // namespace eg::dispatch
