#include "dispatch/cors.h"

#include <gtest/gtest.h>

namespace eg::dispatch {
namespace {

namespace http = boost::beast::http;

net::Request preflight(std::string_view origin, std::string_view method,
                       std::string_view headers = "") {
  net::Request req{http::verb::options, "/test", 11};
  if (!origin.empty()) req.set(http::field::origin, origin);
  req.set(http::field::access_control_request_method, method);
  if (!headers.empty()) req.set(http::field::access_control_request_headers, headers);
  return req;
}

TEST(OriginMatches, ExactWildcardAndCase) {
  EXPECT_TRUE(originMatches("*", "http://anything.test"));
  EXPECT_TRUE(originMatches("http://example.com", "http://example.com"));
  EXPECT_TRUE(originMatches("http://example.com", "HTTP://Example.COM"));
  EXPECT_FALSE(originMatches("http://example.com", "http://example.com:8080"));
  EXPECT_FALSE(originMatches("http://example.com", "https://example.com"));
  EXPECT_TRUE(originMatches("http://*.example.com", "http://api.example.com"));
  EXPECT_TRUE(originMatches("http://*.example.com", "http://a.b.example.com"));
  EXPECT_FALSE(originMatches("http://*.example.com", "http://example.com"));
  EXPECT_FALSE(originMatches("http://*.example.com", "http://api.example.org"));
  EXPECT_FALSE(originMatches("http://*.example.com", "http://evil.com/x.example.com.org"));
  EXPECT_TRUE(originMatches("https://*.example.*", "https://a.example.org"));
  EXPECT_TRUE(originMatches("http://localhost:*", "http://localhost:3000"));
  EXPECT_FALSE(originMatches("", "http://a"));
  EXPECT_TRUE(originMatches("**", ""));
}

TEST(OriginAllowed, AnyPatternAndNeverEmpty) {
  model::CorsRules rules;
  rules.origins = {"http://a.test", "http://*.b.test"};
  EXPECT_TRUE(originAllowed(rules, "http://a.test"));
  EXPECT_TRUE(originAllowed(rules, "http://x.b.test"));
  EXPECT_FALSE(originAllowed(rules, "http://c.test"));
  EXPECT_FALSE(originAllowed(rules, ""));
}

TEST(Preflight, Detection) {
  EXPECT_TRUE(isPreflight(preflight("http://a", "POST")));
  net::Request plain{http::verb::options, "/", 11};
  EXPECT_FALSE(isPreflight(plain));
  net::Request post{http::verb::post, "/", 11};
  post.set(http::field::access_control_request_method, "POST");
  EXPECT_FALSE(isPreflight(post));
}

TEST(Preflight, AllowedOriginGetsTheRules) {
  model::CorsRules rules;
  rules.origins = {"http://*.example.com"};
  rules.methods = {"GET", "POST"};
  rules.headers = {"Content-Type", "X-Custom"};
  rules.allowCredentials = true;
  auto res = preflightResponse(rules, preflight("http://app.example.com", "post",
                                                "content-type, x-custom"));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "http://app.example.com");
  EXPECT_EQ(res[http::field::access_control_allow_methods], "POST");
  EXPECT_EQ(res[http::field::access_control_allow_headers], "content-type, x-custom");
  EXPECT_EQ(res[http::field::access_control_allow_credentials], "true");
  EXPECT_NE(res[http::field::vary].find("Origin"), std::string_view::npos);
  EXPECT_TRUE(res.body().empty());
}

TEST(Preflight, StarWithoutCredentialsAnswersStar) {
  model::CorsRules rules;  // defaults: "*", HEAD GET POST, Origin Accept Content-Type
  auto res = preflightResponse(rules, preflight("http://x.test", "GET", "Accept"));
  EXPECT_EQ(res[http::field::access_control_allow_origin], "*");
  EXPECT_TRUE(res[http::field::access_control_allow_credentials].empty());
  rules.allowCredentials = true;
  res = preflightResponse(rules, preflight("http://x.test", "GET"));
  EXPECT_EQ(res[http::field::access_control_allow_origin], "http://x.test");
}

TEST(Preflight, RefusedOriginMethodOrHeaderGetNoAllowHeaders) {
  model::CorsRules rules;
  rules.origins = {"http://good.test"};
  auto res = preflightResponse(rules, preflight("http://bad.test", "GET"));
  EXPECT_EQ(res.result(), http::status::ok);
  EXPECT_TRUE(res[http::field::access_control_allow_origin].empty());

  res = preflightResponse(rules, preflight("http://good.test", "DELETE"));
  EXPECT_TRUE(res[http::field::access_control_allow_origin].empty());

  res = preflightResponse(rules, preflight("http://good.test", "GET", "X-Secret"));
  EXPECT_TRUE(res[http::field::access_control_allow_origin].empty());

  res = preflightResponse(rules, preflight("", "GET"));
  EXPECT_TRUE(res[http::field::access_control_allow_origin].empty());
}

TEST(Preflight, WildcardHeadersAllowAnything) {
  auto res = preflightResponse(allowAllRules(),
                               preflight("http://x.test", "PUT", "event, content-type"));
  EXPECT_EQ(res[http::field::access_control_allow_origin], "*");
  EXPECT_EQ(res[http::field::access_control_allow_headers], "event, content-type");
}

TEST(ApplyCors, ActualRequests) {
  model::CorsRules rules;
  rules.origins = {"http://*.example.com"};
  rules.methods = {"GET"};
  net::Request req{http::verb::get, "/test", 11};
  req.set(http::field::origin, "http://www.example.com");
  net::Response res{http::status::ok, 11};
  applyCors(rules, req, res);
  EXPECT_EQ(res[http::field::access_control_allow_origin], "http://www.example.com");
  EXPECT_EQ(res[http::field::vary], "Origin");

  // Method not allowed: no allow header.
  net::Request post{http::verb::post, "/test", 11};
  post.set(http::field::origin, "http://www.example.com");
  net::Response res2{http::status::ok, 11};
  applyCors(rules, post, res2);
  EXPECT_TRUE(res2[http::field::access_control_allow_origin].empty());

  // Foreign origin.
  req.set(http::field::origin, "http://evil.test");
  net::Response res3{http::status::ok, 11};
  applyCors(rules, req, res3);
  EXPECT_TRUE(res3[http::field::access_control_allow_origin].empty());

  // No origin: nothing at all.
  net::Request none{http::verb::get, "/test", 11};
  net::Response res4{http::status::ok, 11};
  applyCors(rules, none, res4);
  EXPECT_TRUE(res4[http::field::vary].empty());
}

TEST(LegacyEventRequest, EventHeaderOrPreflightNamingIt) {
  net::Request emit{http::verb::post, "/", 11};
  emit.set("Event", "user.created");
  EXPECT_TRUE(isLegacyEventRequest(emit, false));
  EXPECT_TRUE(isLegacyEventRequest(preflight("http://a", "POST", "content-type, Event"), true));
  EXPECT_FALSE(isLegacyEventRequest(preflight("http://a", "POST", "content-type"), true));
  net::Request plain{http::verb::post, "/", 11};
  EXPECT_FALSE(isLegacyEventRequest(plain, false));
}

}  // namespace
}  // namespace eg::dispatch
