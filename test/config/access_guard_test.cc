#include "config/access_guard.h"

#include <string>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace eg::config {
namespace {

namespace http = boost::beast::http;

std::shared_ptr<const access::KeySet> keys() {
  std::string text;
  for (const auto& [key, scope] : {std::pair{"k-admin", "admin"}, std::pair{"k-a", "space:a"},
                                   std::pair{"k-a-read", "space:a:read"}}) {
    text += access::fileLine(key, *access::parseScope(scope)) + "\n";
  }
  return *access::KeySet::parse(text);
}

class AccessGuardTest : public ::testing::Test {
 protected:
  // The status the guard answers, or 0 when it lets the request through.
  unsigned check(http::verb method, const std::string& target, const char* authorization,
                 bool metricsOpen = false) {
    const AccessGuard guard(&store_, metricsOpen);
    net::Request req{method, target, 11};
    if (authorization) req.set(http::field::authorization, authorization);
    auto res = guard.check(req);
    if (!res) return 0;
    last_ = std::move(*res);
    return last_.result_int();
  }

  access::KeyStore store_{keys()};
  net::Response last_;
};

TEST_F(AccessGuardTest, WithoutAKeyStoreEverythingPasses) {
  const AccessGuard open(nullptr, false);
  net::Request req{http::verb::delete_, "/v1/spaces/a/functions/f", 11};
  EXPECT_FALSE(open.check(req));
}

TEST_F(AccessGuardTest, MissingMalformedAndUnknownKeysAre401WithAChallenge) {
  for (const char* auth : {static_cast<const char*>(nullptr), "", "Basic azph", "Bearer",
                           "Bearer ", "Bearer k admin", "k-admin", "Bearer k-nope",
                           "Bearer K-ADMIN"}) {
    EXPECT_EQ(check(http::verb::get, "/v1/spaces/a/functions", auth), 401u) << (auth ? auth : "none");
    EXPECT_EQ(std::string(last_[http::field::www_authenticate]), "Bearer");
    EXPECT_EQ(std::string(last_[http::field::content_type]), "application/json");
    const auto body = boost::json::parse(last_.body());
    ASSERT_TRUE(body.at("errors").at(0).at("message").is_string()) << last_.body();
  }
  // Two Authorization fields, even both valid: which one counts would be ambiguous.
  const AccessGuard guard(&store_, false);
  net::Request req{http::verb::get, "/v1/spaces/a/functions", 11};
  req.insert(http::field::authorization, "Bearer k-admin");
  req.insert(http::field::authorization, "Bearer k-admin");
  ASSERT_TRUE(guard.check(req));
  EXPECT_EQ(guard.check(req)->result_int(), 401);
}

TEST_F(AccessGuardTest, StatusIsOpenOnlyForGet) {
  EXPECT_EQ(check(http::verb::get, "/v1/status", nullptr), 0u);
  EXPECT_EQ(check(http::verb::get, "/v1/status/", nullptr), 0u);
  EXPECT_EQ(check(http::verb::post, "/v1/status", nullptr), 401u);
  EXPECT_EQ(check(http::verb::get, "/v1/status?x=1", nullptr), 0u);
}

// The console's assets hold no data; the API calls the page makes need a key as any.
TEST_F(AccessGuardTest, ConsoleAssetsAreOpenOnlyForGetAndHead) {
  EXPECT_EQ(check(http::verb::get, "/console", nullptr), 0u);
  EXPECT_EQ(check(http::verb::get, "/console/", nullptr), 0u);
  EXPECT_EQ(check(http::verb::get, "/console/app.js", nullptr), 0u);
  EXPECT_EQ(check(http::verb::head, "/console/app.js", nullptr), 0u);
  EXPECT_EQ(check(http::verb::post, "/console/app.js", nullptr), 401u);
  EXPECT_EQ(check(http::verb::get, "/consoles", nullptr), 401u);
  EXPECT_EQ(check(http::verb::get, "/v1/console", nullptr), 401u);
}

TEST_F(AccessGuardTest, ScopesByPath) {
  struct Row {
    http::verb method;
    const char* target;
    const char* auth;
    unsigned status;
  };
  const Row rows[] = {
      {http::verb::get, "/v1/spaces/a/functions", "Bearer k-admin", 0},
      {http::verb::delete_, "/v1/spaces/b/cors/x", "bearer k-admin", 0},
      {http::verb::get, "/v1/metrics", "Bearer k-admin", 0},
      {http::verb::get, "/nope", "Bearer k-admin", 0},
      {http::verb::post, "/v1/spaces/a/functions", "Bearer k-a", 0},
      {http::verb::put, "/v1/spaces/a/eventtypes/e", "Bearer k-a", 0},
      {http::verb::get, "/v1/spaces/a/", "Bearer k-a", 0},
      // The space as the router decodes it.
      {http::verb::get, "/v1/spaces/%61/functions", "Bearer k-a", 0},
      {http::verb::get, "/v1/spaces/b/functions", "Bearer k-a", 403},
      {http::verb::get, "/v1/spaces/a%2F../functions", "Bearer k-a", 403},
      {http::verb::get, "/v1/spaces/A/functions", "Bearer k-a", 403},
      {http::verb::get, "/v1/metrics", "Bearer k-a", 403},
      {http::verb::get, "/metrics", "Bearer k-a", 403},
      {http::verb::get, "/v1/spaces", "Bearer k-a", 403},
      {http::verb::get, "/nope", "Bearer k-a", 403},
      {http::verb::get, "/v1/spaces/a/subscriptions", "Bearer k-a-read", 0},
      {http::verb::head, "/v1/spaces/a/subscriptions", "Bearer k-a-read", 0},
      {http::verb::post, "/v1/spaces/a/subscriptions", "Bearer k-a-read", 403},
      {http::verb::delete_, "/v1/spaces/a/subscriptions/x", "Bearer k-a-read", 403},
      {http::verb::options, "/v1/spaces/a/subscriptions", "Bearer k-a-read", 403},
      {http::verb::get, "/v1/spaces/b/subscriptions", "Bearer k-a-read", 403},
  };
  for (const Row& row : rows) {
    EXPECT_EQ(check(row.method, row.target, row.auth), row.status)
        << http::to_string(row.method) << " " << row.target << " " << row.auth;
    if (row.status == 403) {
      EXPECT_FALSE(last_.count(http::field::www_authenticate));
      EXPECT_EQ(std::string(last_[http::field::content_type]), "application/json");
    }
  }
}

TEST_F(AccessGuardTest, MetricsOpenOpensOnlyMetrics) {
  EXPECT_EQ(check(http::verb::get, "/v1/metrics", nullptr, true), 0u);
  EXPECT_EQ(check(http::verb::get, "/metrics", nullptr, true), 0u);
  EXPECT_EQ(check(http::verb::get, "/v1/metrics", nullptr, false), 401u);
  EXPECT_EQ(check(http::verb::get, "/v1/spaces/a/functions", nullptr, true), 401u);
}

}  // namespace
}  // namespace eg::config
