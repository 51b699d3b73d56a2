#include "access/scope.h"

#include <string>

#include <gtest/gtest.h>

namespace eg::access {
namespace {

using Kind = Scope::Kind;

TEST(ScopeTest, ParsesTheThreeForms) {
  auto admin = parseScope("admin");
  ASSERT_TRUE(admin) << admin.error().message;
  EXPECT_EQ(*admin, (Scope{Kind::kAdmin, ""}));
  auto space = parseScope("space:team-a.prod_1");
  ASSERT_TRUE(space) << space.error().message;
  EXPECT_EQ(*space, (Scope{Kind::kSpace, "team-a.prod_1"}));
  auto read = parseScope("space:a:read");
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, (Scope{Kind::kSpaceRead, "a"}));
  for (const char* text : {"admin", "space:x", "space:x:read"}) {
    EXPECT_EQ(parseScope(text)->text(), text);
  }
}

TEST(ScopeTest, RefusesOtherScopesWithAReason) {
  struct Case {
    const char* text;
    const char* message;
  };
  const std::string unknown = ": want admin, space:<name> or space:<name>:read";
  const std::string badName =
      ": a space name is 1 to 256 of letters, digits, \".\", \"-\" and \"_\"";
  const Case cases[] = {
      {"", "unknown scope \"\""},
      {"Admin", "unknown scope \"Admin\""},
      {"root", "unknown scope \"root\""},
      {"space", "unknown scope \"space\""},
      {"space:a:write", "unknown scope \"space:a:write\""},
      {"space:a:read:x", "unknown scope \"space:a:read:x\""},
      {"space:", "invalid space name in scope \"space:\""},
      {"space::read", "invalid space name in scope \"space::read\""},
      {"space:a b", "invalid space name in scope \"space:a b\""},
      {"space:a/b", "invalid space name in scope \"space:a/b\""},
      {"space:*", "invalid space name in scope \"space:*\""},
  };
  for (const Case& c : cases) {
    auto r = parseScope(c.text);
    ASSERT_FALSE(r) << c.text;
    EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
    const std::string expected =
        std::string(c.message) + (std::string(c.message).starts_with("unknown") ? unknown : badName);
    EXPECT_EQ(r.error().message, expected) << c.text;
  }
  EXPECT_TRUE(parseScope("space:" + std::string(256, 'a')));
  EXPECT_FALSE(parseScope("space:" + std::string(257, 'a')));
}

// Every scope against every kind of target: the whole decision in one table.
TEST(ScopeTest, DecisionTable) {
  const Scope admin{Kind::kAdmin, ""};
  const Scope spaceA{Kind::kSpace, "a"};
  const Scope readA{Kind::kSpaceRead, "a"};
  const Scope spaceB{Kind::kSpace, "b"};
  const auto space = [](std::string s, bool write) {
    return Target{Target::Kind::kSpace, std::move(s), write};
  };
  const Target metrics{Target::Kind::kMetrics, "", false};
  const Target other{Target::Kind::kOther, "", false};
  const Target otherWrite{Target::Kind::kOther, "", true};
  struct Row {
    const Scope* scope;
    Target target;
    bool allowed;
  };
  const Row rows[] = {
      {&admin, space("a", false), true},  {&admin, space("a", true), true},
      {&admin, metrics, true},            {&admin, other, true},
      {&admin, otherWrite, true},
      {&spaceA, space("a", false), true}, {&spaceA, space("a", true), true},
      {&spaceA, space("b", false), false}, {&spaceA, space("b", true), false},
      {&spaceA, space("A", false), false},  // names are case-sensitive
      {&spaceA, space("a ", false), false},
      {&spaceA, metrics, false},          {&spaceA, other, false},
      {&readA, space("a", false), true},  {&readA, space("a", true), false},
      {&readA, space("b", false), false}, {&readA, metrics, false},
      {&readA, other, false},
      {&spaceB, space("a", false), false}, {&spaceB, space("b", true), true},
  };
  for (const Row& row : rows) {
    const auto denied = whyDenied(*row.scope, row.target);
    EXPECT_EQ(!denied.has_value(), row.allowed)
        << row.scope->text() << " on space \"" << row.target.space << "\" write "
        << row.target.write << " kind " << static_cast<int>(row.target.kind);
  }
}

TEST(ScopeTest, RefusalsSayWhy) {
  const Scope readA{Kind::kSpaceRead, "a"};
  EXPECT_EQ(*whyDenied(readA, Target{Target::Kind::kSpace, "a", true}),
            "An access key of scope \"space:a:read\" may only read (GET, HEAD).");
  EXPECT_EQ(*whyDenied(readA, Target{Target::Kind::kSpace, "b", false}),
            "An access key of scope \"space:a:read\" may not use space \"b\".");
  EXPECT_EQ(*whyDenied(readA, Target{Target::Kind::kMetrics, "", false}),
            "An access key of scope \"space:a:read\" may not use this endpoint: it needs an "
            "admin key.");
}

}  // namespace
}  // namespace eg::access
