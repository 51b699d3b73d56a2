#include "config/console_route.h"

#include <gtest/gtest.h>

#include "console/assets.h"

namespace eg::config {
namespace {

namespace http = boost::beast::http;

net::Response get(std::string_view path, http::verb method = http::verb::get,
                  std::string_view ifNoneMatch = {}) {
  net::Request req{method, std::string(path), 11};
  if (!ifNoneMatch.empty()) req.set(http::field::if_none_match, ifNoneMatch);
  return consoleResponse(req, path);
}

TEST(ConsoleRoute, Paths) {
  EXPECT_TRUE(isConsolePath("/console"));
  EXPECT_TRUE(isConsolePath("/console/"));
  EXPECT_TRUE(isConsolePath("/console/app.js"));
  EXPECT_FALSE(isConsolePath("/consoles"));
  EXPECT_FALSE(isConsolePath("/v1/console"));
  EXPECT_FALSE(isConsolePath("/"));
}

TEST(ConsoleRoute, BareConsoleRedirects) {
  const auto res = get("/console");
  EXPECT_EQ(res.result(), http::status::moved_permanently);
  EXPECT_EQ(res[http::field::location], "/console/");
}

TEST(ConsoleRoute, IndexWithTypeEtagCachingAndPolicy) {
  const auto res = get("/console/");
  ASSERT_EQ(res.result(), http::status::ok);
  const console::Asset* index = console::findAsset("index.html");
  EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(res[http::field::etag], index->etag);
  EXPECT_EQ(res[http::field::cache_control], "no-cache");
  EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
  EXPECT_NE(res["Content-Security-Policy"].find("default-src 'self'"), std::string_view::npos);
  EXPECT_EQ(res.body(), index->body);
  EXPECT_EQ(get("/console/index.html").body(), index->body);
}

TEST(ConsoleRoute, MatchingIfNoneMatchIs304WithoutBody) {
  const console::Asset* app = console::findAsset("app.js");
  const auto res = get("/console/app.js", http::verb::get, app->etag);
  EXPECT_EQ(res.result(), http::status::not_modified);
  EXPECT_EQ(res[http::field::etag], app->etag);
  EXPECT_TRUE(res.body().empty());
  EXPECT_EQ(get("/console/app.js", http::verb::get, "\"other\"").result(), http::status::ok);
}

TEST(ConsoleRoute, UnknownAssetIs404Json) {
  const auto res = get("/console/missing.js");
  EXPECT_EQ(res.result(), http::status::not_found);
  EXPECT_EQ(res[http::field::content_type], "application/json");
  EXPECT_NE(res.body().find("\"errors\""), std::string::npos);
  EXPECT_EQ(get("/console/x/app.js").result(), http::status::not_found);
}

TEST(ConsoleRoute, OnlyGetAndHead) {
  const auto head = get("/console/app.js", http::verb::head);
  EXPECT_EQ(head.result(), http::status::ok);
  EXPECT_TRUE(head.body().empty());
  const auto post = get("/console/app.js", http::verb::post);
  EXPECT_EQ(post.result(), http::status::method_not_allowed);
  EXPECT_EQ(post[http::field::allow], "GET, HEAD");
}

}  // namespace
}  // namespace eg::config
