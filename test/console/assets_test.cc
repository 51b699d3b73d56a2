#include "console/assets.h"

#include <set>
#include <string>

#include <gtest/gtest.h>

namespace eg::console {
namespace {

TEST(ConsoleAssets, EmptyPathIsTheIndex) {
  const Asset* index = findAsset("");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->name, "index.html");
  EXPECT_EQ(index, findAsset("index.html"));
  EXPECT_EQ(index->contentType, "text/html; charset=utf-8");
  EXPECT_NE(index->body.find("<script type=\"module\" src=\"app.js\">"), std::string_view::npos);
}

TEST(ConsoleAssets, ContentTypesByExtension) {
  ASSERT_NE(findAsset("app.js"), nullptr);
  EXPECT_EQ(findAsset("app.js")->contentType, "text/javascript; charset=utf-8");
  ASSERT_NE(findAsset("console.css"), nullptr);
  EXPECT_EQ(findAsset("console.css")->contentType, "text/css; charset=utf-8");
}

TEST(ConsoleAssets, OnlyExactNamesMatch) {
  EXPECT_EQ(findAsset("nope.js"), nullptr);
  EXPECT_EQ(findAsset("/app.js"), nullptr);
  EXPECT_EQ(findAsset("../app.js"), nullptr);
  EXPECT_EQ(findAsset("app.js/"), nullptr);
  EXPECT_EQ(findAsset("APP.JS"), nullptr);
  EXPECT_EQ(findAsset("app%2Ejs"), nullptr);
}

TEST(ConsoleAssets, EveryAssetIsSortedWhole) {
  const auto assets = allAssets();
  ASSERT_GE(assets.size(), 3u);
  for (std::size_t i = 1; i < assets.size(); ++i) EXPECT_LT(assets[i - 1].name, assets[i].name);
  for (const Asset& a : assets) {
    EXPECT_FALSE(a.body.empty()) << a.name;
    EXPECT_EQ(findAsset(a.name), &a);
    // The page loads nothing from elsewhere.
    EXPECT_EQ(a.body.find("https://"), std::string_view::npos) << a.name;
  }
}

TEST(ConsoleAssets, EtagsAreStrongQuotedAndDistinct) {
  std::set<std::string_view> seen;
  for (const Asset& a : allAssets()) {
    ASSERT_GE(a.etag.size(), 3u);
    EXPECT_EQ(a.etag.front(), '"') << a.name;
    EXPECT_EQ(a.etag.back(), '"') << a.name;
    EXPECT_FALSE(a.etag.starts_with("W/")) << a.name;
    EXPECT_TRUE(seen.insert(a.etag).second) << a.name;
  }
}

TEST(ConsoleAssets, IfNoneMatch) {
  EXPECT_TRUE(etagMatches("\"abc\"", "\"abc\""));
  EXPECT_TRUE(etagMatches("*", "\"abc\""));
  EXPECT_TRUE(etagMatches(" \"x\" ,\t\"abc\"", "\"abc\""));
  EXPECT_TRUE(etagMatches("W/\"abc\"", "\"abc\""));  // If-None-Match compares weakly
  EXPECT_FALSE(etagMatches("\"abd\"", "\"abc\""));
  EXPECT_FALSE(etagMatches("abc", "\"abc\""));
  EXPECT_FALSE(etagMatches("", "\"abc\""));
}

}  // namespace
}  // namespace eg::console
