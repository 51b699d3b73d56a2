#include "routing/path_tree.h"

#include <string>

#include <gtest/gtest.h>

namespace eg::routing {
namespace {

using Tree = PathTree<std::string>;

std::string matchValue(const Tree& tree, std::string_view path, PathParams* params = nullptr) {
  const std::string* v = tree.match(path, params);
  return v == nullptr ? "<none>" : *v;
}

TEST(PathTreeTest, RootRoute) {
  Tree tree;
  EXPECT_EQ(matchValue(tree, "/"), "<none>");
  ASSERT_TRUE(tree.insert("/", "root").ok());
  EXPECT_EQ(matchValue(tree, "/"), "root");
  EXPECT_EQ(matchValue(tree, "/a"), "<none>");
  EXPECT_EQ(matchValue(tree, ""), "<none>");
  EXPECT_EQ(matchValue(tree, "a"), "<none>");
}

TEST(PathTreeTest, StaticRoutes) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/a", "1").ok());
  ASSERT_TRUE(tree.insert("/b", "2").ok());
  ASSERT_TRUE(tree.insert("/a/b", "3").ok());
  ASSERT_TRUE(tree.insert("/d/e/f", "4").ok());
  EXPECT_EQ(matchValue(tree, "/a"), "1");
  EXPECT_EQ(matchValue(tree, "/b"), "2");
  EXPECT_EQ(matchValue(tree, "/a/b"), "3");
  EXPECT_EQ(matchValue(tree, "/d/e/f"), "4");
  EXPECT_EQ(matchValue(tree, "/d/e"), "<none>");
  EXPECT_EQ(matchValue(tree, "/c"), "<none>");
  EXPECT_EQ(matchValue(tree, "/a/b/c"), "<none>");
  EXPECT_EQ(tree.size(), 4u);
}

TEST(PathTreeTest, TrailingSlashIsSignificant) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/a/", "slash").ok());
  EXPECT_EQ(matchValue(tree, "/a"), "<none>");
  EXPECT_EQ(matchValue(tree, "/a/"), "slash");
  ASSERT_TRUE(tree.insert("/a", "plain").ok());
  EXPECT_EQ(matchValue(tree, "/a"), "plain");
  EXPECT_EQ(matchValue(tree, "/a/"), "slash");
}

TEST(PathTreeTest, EmptySegmentsAreStatic) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/a//b", "x").ok());
  EXPECT_EQ(matchValue(tree, "/a//b"), "x");
  EXPECT_EQ(matchValue(tree, "/a/b"), "<none>");
}

TEST(PathTreeTest, Params) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/:name", "1").ok());
  ASSERT_TRUE(tree.insert("/:name/:id", "2").ok());
  PathParams params;
  EXPECT_EQ(matchValue(tree, "/foo", &params), "1");
  EXPECT_EQ(params, (PathParams{{"name", "foo"}}));
  EXPECT_EQ(matchValue(tree, "/foo/1", &params), "2");
  EXPECT_EQ(params, (PathParams{{"name", "foo"}, {"id", "1"}}));
  EXPECT_EQ(matchValue(tree, "/foo/bar/baz"), "<none>");
  // "/" is the root route, not an empty parameter; a parameter never matches "".
  EXPECT_EQ(matchValue(tree, "/"), "<none>");
  EXPECT_EQ(matchValue(tree, "/foo/"), "<none>");
}

TEST(PathTreeTest, ParamsBetweenStaticSegments) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/:name/bar/:id", "1").ok());
  PathParams params;
  EXPECT_EQ(matchValue(tree, "/foo/bar/baz", &params), "1");
  EXPECT_EQ(params, (PathParams{{"name", "foo"}, {"id", "baz"}}));
  EXPECT_EQ(matchValue(tree, "/foo/baz/baz"), "<none>");
}

TEST(PathTreeTest, WildcardCapturesRestWithoutLeadingSlash) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/*rest", "w").ok());
  PathParams params;
  EXPECT_EQ(matchValue(tree, "/foo/bar/baz", &params), "w");
  EXPECT_EQ(params, (PathParams{{"rest", "foo/bar/baz"}}));
  EXPECT_EQ(matchValue(tree, "/a/", &params), "w");
  EXPECT_EQ(params, (PathParams{{"rest", "a/"}}));
  EXPECT_EQ(matchValue(tree, "/"), "<none>");  // the root route is separate

  Tree nested;
  ASSERT_TRUE(nested.insert("/files/:bucket/*key", "f").ok());
  EXPECT_EQ(matchValue(nested, "/files/b1/x/y.txt", &params), "f");
  EXPECT_EQ(params, (PathParams{{"bucket", "b1"}, {"key", "x/y.txt"}}));
  EXPECT_EQ(matchValue(nested, "/files/b1/", &params), "f");
  EXPECT_EQ(params, (PathParams{{"bucket", "b1"}, {"key", ""}}));
  EXPECT_EQ(matchValue(nested, "/files/b1"), "<none>");
}

TEST(PathTreeTest, LenientPrecedenceStaticParamWildcard) {
  Tree tree(ConflictPolicy::kLenient);
  ASSERT_TRUE(tree.insert("/a/b", "static").ok());
  ASSERT_TRUE(tree.insert("/a/:x", "param").ok());
  ASSERT_TRUE(tree.insert("/a/*rest", "wild").ok());
  PathParams params;
  EXPECT_EQ(matchValue(tree, "/a/b", &params), "static");
  EXPECT_TRUE(params.empty());
  EXPECT_EQ(matchValue(tree, "/a/c", &params), "param");
  EXPECT_EQ(params, (PathParams{{"x", "c"}}));
  EXPECT_EQ(matchValue(tree, "/a/c/d", &params), "wild");
  EXPECT_EQ(params, (PathParams{{"rest", "c/d"}}));
}

TEST(PathTreeTest, LenientBacktracksFromFailedStaticBranch) {
  Tree tree(ConflictPolicy::kLenient);
  ASSERT_TRUE(tree.insert("/a/b/c", "deep-static").ok());
  ASSERT_TRUE(tree.insert("/a/:x", "param").ok());
  ASSERT_TRUE(tree.insert("/a/:x/d", "param-d").ok());
  ASSERT_TRUE(tree.insert("/:p/b/e", "root-param").ok());
  PathParams params;
  // "/a/b" has a static branch (/a/b/c) that does not end at "b": fall back to /a/:x.
  EXPECT_EQ(matchValue(tree, "/a/b", &params), "param");
  EXPECT_EQ(params, (PathParams{{"x", "b"}}));
  EXPECT_EQ(matchValue(tree, "/a/b/d", &params), "param-d");
  EXPECT_EQ(params, (PathParams{{"x", "b"}}));
  // Static "a" fails all the way down; the root parameter branch matches.
  EXPECT_EQ(matchValue(tree, "/a/b/e", &params), "root-param");
  EXPECT_EQ(params, (PathParams{{"p", "a"}}));
  EXPECT_EQ(matchValue(tree, "/a/b/c", &params), "deep-static");
  EXPECT_TRUE(params.empty());
}

TEST(PathTreeTest, LenientParamNamesPerRoute) {
  Tree tree(ConflictPolicy::kLenient);
  ASSERT_TRUE(tree.insert("/:id", "one").ok());
  ASSERT_TRUE(tree.insert("/:name/x", "two").ok());
  PathParams params;
  EXPECT_EQ(matchValue(tree, "/v", &params), "one");
  EXPECT_EQ(params, (PathParams{{"id", "v"}}));
  EXPECT_EQ(matchValue(tree, "/v/x", &params), "two");
  EXPECT_EQ(params, (PathParams{{"name", "v"}}));
  EXPECT_EQ(tree.check("/:other").error().kind, ErrorKind::kAlreadyExists);
}

TEST(PathTreeTest, DuplicateRouteIsAlreadyExists) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/a/:id", "1").ok());
  auto st = tree.insert("/a/:id", "2");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kAlreadyExists);
  ASSERT_TRUE(tree.insert("/", "r").ok());
  EXPECT_EQ(tree.insert("/", "r2").error().kind, ErrorKind::kAlreadyExists);
  ASSERT_TRUE(tree.insert("/w/*all", "w").ok());
  EXPECT_EQ(tree.insert("/w/*all", "w2").error().kind, ErrorKind::kAlreadyExists);
  EXPECT_EQ(matchValue(tree, "/a/7"), "1");
}

// The conflict rules of the Go gateway's path tree.
TEST(PathTreeTest, StrictParamWithAnotherNameConflicts) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/:foo", "1").ok());
  auto st = tree.insert("/:bar", "2");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(st.error().message.find("/:foo"), std::string::npos) << st.error().message;
  EXPECT_NE(st.error().message.find("different name"), std::string::npos);
  // Deeper routes through the same place too.
  EXPECT_FALSE(tree.insert("/:bar/x", "3").ok());
  EXPECT_TRUE(tree.insert("/:foo/x", "4").ok());
}

TEST(PathTreeTest, StrictStaticWhereParamConflicts) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/:foo", "1").ok());
  auto st = tree.insert("/bar", "2");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(st.error().message.find("/:foo"), std::string::npos);
}

TEST(PathTreeTest, StrictStaticWhereParamConflictsAtDifferentLevels) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/:foo/:bar", "1").ok());
  auto st = tree.insert("/baz", "2");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.error().message.find("/:foo/:bar"), std::string::npos) << st.error().message;
}

TEST(PathTreeTest, StrictParamWhereStaticConflicts) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/foo/bar", "1").ok());
  auto st = tree.insert("/:x", "2");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(st.error().message.find("/foo/bar"), std::string::npos);
  // Different places do not conflict.
  EXPECT_TRUE(tree.insert("/foo", "3").ok());
  EXPECT_TRUE(tree.insert("/foo/bar/:y", "4").ok());
}

TEST(PathTreeTest, StrictWildcardConflicts) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/*foo", "1").ok());
  EXPECT_EQ(tree.insert("/*bar", "2").error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(tree.insert("/bar", "2").error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(tree.insert("/:baz", "2").error().kind, ErrorKind::kInvalid);

  Tree params;
  ASSERT_TRUE(params.insert("/:foo", "1").ok());
  EXPECT_EQ(params.insert("/*bar", "2").error().kind, ErrorKind::kInvalid);
  Tree statics;
  ASSERT_TRUE(statics.insert("/a/b", "1").ok());
  EXPECT_EQ(statics.insert("/*bar", "2").error().kind, ErrorKind::kInvalid);
  // A route ending where a wildcard starts is fine.
  EXPECT_TRUE(statics.insert("/a/b/*rest", "3").ok());
  EXPECT_TRUE(statics.insert("/a", "4").ok());
}

TEST(PathTreeTest, WildcardMustBeLast) {
  Tree tree;
  auto st = tree.insert("/*foo/bar", "1");
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().kind, ErrorKind::kInvalid);
  EXPECT_NE(st.error().message.find("last"), std::string::npos);
  EXPECT_TRUE(tree.empty());
  EXPECT_TRUE(tree.insert("/bar", "2").ok());  // nothing was left behind
}

TEST(PathTreeTest, MalformedPatterns) {
  Tree tree;
  EXPECT_EQ(tree.insert("", "x").error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(tree.insert("a/b", "x").error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(tree.insert("/:", "x").error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(tree.insert("/a/*", "x").error().kind, ErrorKind::kInvalid);
  EXPECT_TRUE(validateRoutePath("/a/:b/*c").ok());
  EXPECT_FALSE(validateRoutePath("/a/*c/d").ok());
  EXPECT_TRUE(tree.empty());
}

TEST(PathTreeTest, CheckDoesNotInsert) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/:foo", "1").ok());
  EXPECT_FALSE(tree.check("/bar").ok());
  EXPECT_TRUE(tree.check("/:foo/bar").ok());
  EXPECT_EQ(tree.check("/:foo").error().kind, ErrorKind::kAlreadyExists);
  EXPECT_EQ(tree.size(), 1u);
  EXPECT_EQ(matchValue(tree, "/x/bar"), "<none>");
}

TEST(PathTreeTest, FindIsExact) {
  Tree tree(ConflictPolicy::kLenient);
  ASSERT_TRUE(tree.insert("/a/:id", "1").ok());
  ASSERT_NE(tree.find("/a/:id"), nullptr);
  EXPECT_EQ(*tree.find("/a/:id"), "1");
  EXPECT_EQ(tree.find("/a/:other"), nullptr);
  EXPECT_EQ(tree.find("/a/x"), nullptr);
  EXPECT_EQ(tree.find("/a"), nullptr);
}

TEST(PathTreeTest, RemoveRoot) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/", "r").ok());
  EXPECT_EQ(tree.remove("/"), std::optional<std::string>("r"));
  EXPECT_EQ(matchValue(tree, "/"), "<none>");
  EXPECT_TRUE(tree.empty());
}

TEST(PathTreeTest, RemoveStatic) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/a/b/c", "1").ok());
  EXPECT_TRUE(tree.remove("/a/b/c").has_value());
  EXPECT_EQ(matchValue(tree, "/a/b/c"), "<none>");
  // Pruned: a parameter at the first level no longer conflicts.
  EXPECT_TRUE(tree.insert("/:x", "2").ok());
}

TEST(PathTreeTest, RemoveKeepsChildren) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/a", "1").ok());
  ASSERT_TRUE(tree.insert("/a/b", "2").ok());
  ASSERT_TRUE(tree.remove("/a").has_value());
  EXPECT_EQ(matchValue(tree, "/a"), "<none>");
  EXPECT_EQ(matchValue(tree, "/a/b"), "2");
}

TEST(PathTreeTest, RemoveParamWithChild) {
  Tree tree;
  ASSERT_TRUE(tree.insert("/:foo", "1").ok());
  ASSERT_TRUE(tree.insert("/:foo/bar", "2").ok());
  ASSERT_TRUE(tree.remove("/:foo").has_value());
  EXPECT_EQ(matchValue(tree, "/a"), "<none>");
  EXPECT_EQ(matchValue(tree, "/a/bar"), "2");
  // The parameter is still registered through /:foo/bar.
  EXPECT_FALSE(tree.insert("/a", "3").ok());
  ASSERT_TRUE(tree.remove("/:foo/bar").has_value());
  EXPECT_TRUE(tree.insert("/a", "3").ok());
  EXPECT_EQ(matchValue(tree, "/a"), "3");
}

TEST(PathTreeTest, RemoveWildcardAndMissing) {
  Tree tree;
  EXPECT_FALSE(tree.remove("/a").has_value());
  ASSERT_TRUE(tree.insert("/x/*rest", "w").ok());
  EXPECT_FALSE(tree.remove("/x/*other").has_value());
  EXPECT_FALSE(tree.remove("/x").has_value());
  EXPECT_TRUE(tree.remove("/x/*rest").has_value());
  EXPECT_EQ(matchValue(tree, "/x/y"), "<none>");
  EXPECT_TRUE(tree.empty());
  EXPECT_TRUE(tree.insert("/:p", "p").ok());
}

TEST(PathTreeTest, RemoveOnlyTheExactLenientRoute) {
  Tree tree(ConflictPolicy::kLenient);
  ASSERT_TRUE(tree.insert("/:id", "1").ok());
  EXPECT_FALSE(tree.remove("/:name").has_value());
  EXPECT_EQ(matchValue(tree, "/v"), "1");
}

TEST(PathTreeTest, MoveOnlyValues) {
  PathTree<std::unique_ptr<int>> tree;
  ASSERT_TRUE(tree.insert("/a", std::make_unique<int>(5)).ok());
  const auto* v = tree.match("/a");
  ASSERT_NE(v, nullptr);
  EXPECT_EQ(**v, 5);
  auto removed = tree.remove("/a");
  ASSERT_TRUE(removed.has_value());
  EXPECT_EQ(**removed, 5);
}

}  // namespace
}  // namespace eg::routing
