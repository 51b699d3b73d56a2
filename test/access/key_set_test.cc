#include "access/key_set.h"

#include <cctype>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace eg::access {
namespace {

// SHA-256 test vectors (FIPS 180-2).
TEST(KeySetTest, Sha256MatchesTheStandardVectors) {
  EXPECT_EQ(toHex(sha256("")), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(toHex(sha256("abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

std::string digestOf(const std::string& key) { return toHex(sha256(key)); }

TEST(KeySetTest, ParsesLinesCommentsAndBlanks) {
  const std::string text = "# keys of the staging gateway\n"
                           "\n" +
                           digestOf("k-admin") + " admin\n" +
                           "   \t\n" +
                           "  " + digestOf("k-a") + "\t space:a  \r\n" +
                           // Upper-case hex is the same digest.
                           [] {
                             std::string d = toHex(sha256("k-a-read"));
                             for (char& c : d) c = static_cast<char>(std::toupper(c));
                             return d;
                           }() + " space:a:read";  // no final newline
  auto set = KeySet::parse(text);
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_EQ((*set)->size(), 3u);
  EXPECT_EQ((*set)->entries()[0].line, 3);
  EXPECT_EQ((*set)->entries()[1].line, 5);
  EXPECT_EQ((*set)->entries()[2].line, 6);

  const auto* admin = (*set)->find("k-admin");
  ASSERT_NE(admin, nullptr);
  EXPECT_EQ(admin->scope.text(), "admin");
  ASSERT_NE((*set)->find("k-a"), nullptr);
  EXPECT_EQ((*set)->find("k-a")->scope.text(), "space:a");
  ASSERT_NE((*set)->find("k-a-read"), nullptr);
  EXPECT_EQ((*set)->find("k-a-read")->scope.text(), "space:a:read");
  EXPECT_EQ((*set)->find("k-a-read")->label(), "sha256:" + digestOf("k-a-read").substr(0, 8));

  EXPECT_EQ((*set)->find(""), nullptr);
  EXPECT_EQ((*set)->find("k-admi"), nullptr);
  EXPECT_EQ((*set)->find("k-admin "), nullptr);
  EXPECT_EQ((*set)->find("K-ADMIN"), nullptr);
  // The digest itself is not a key.
  EXPECT_EQ((*set)->find(digestOf("k-admin")), nullptr);
}

TEST(KeySetTest, AnEmptyFileHoldsNoKey) {
  for (const char* text : {"", "\n", "# nothing yet\n"}) {
    auto set = KeySet::parse(text);
    ASSERT_TRUE(set) << set.error().message;
    EXPECT_EQ((*set)->size(), 0u);
    EXPECT_EQ((*set)->find("anything"), nullptr);
  }
}

TEST(KeySetTest, EachBadLineIsNamedWithItsNumber) {
  const std::string good = digestOf("good") + " admin\n";
  const std::string d = digestOf("x");
  const std::string notDigest =
      "the first field must be the SHA-256 of the key, 64 hex characters (found ";
  const std::string notDigestEnd =
      " characters); the file holds digests, never keys: event-gateway -new-access-key SCOPE "
      "prints a line";
  struct Case {
    std::string line;
    std::string message;  // after "line 2: "
  };
  const Case cases[] = {
      {d, "want \"<sha256 hex of the key> <scope>\", found 1 field(s)"},
      {d + " space:a read", "want \"<sha256 hex of the key> <scope>\", found 3 field(s)"},
      {d.substr(1) + " admin", notDigest + "63" + notDigestEnd},
      {d + "0 admin", notDigest + "65" + notDigestEnd},
      {"g" + d.substr(1) + " admin", notDigest + "64" + notDigestEnd},
      // A key pasted instead of its digest: the message never repeats it.
      {"s3cr3t-key-pasted-by-mistake admin", notDigest + "28" + notDigestEnd},
      {d + " root", "unknown scope \"root\": want admin, space:<name> or space:<name>:read"},
      {d + " space:a:write",
       "unknown scope \"space:a:write\": want admin, space:<name> or space:<name>:read"},
      {d + " space:bad/name", "invalid space name in scope \"space:bad/name\": a space name is 1 "
                              "to 256 of letters, digits, \".\", \"-\" and \"_\""},
      {d + " space:", "invalid space name in scope \"space:\": a space name is 1 to 256 of "
                      "letters, digits, \".\", \"-\" and \"_\""},
      {digestOf("good") + " space:a", "the same key as line 1: a key has one scope"},
  };
  for (const Case& c : cases) {
    auto set = KeySet::parse(good + c.line + "\n" + digestOf("later") + " admin\n");
    ASSERT_FALSE(set) << c.line;
    EXPECT_EQ(set.error().kind, ErrorKind::kInvalid);
    EXPECT_EQ(set.error().message, "line 2: " + c.message) << c.line;
    EXPECT_EQ(set.error().message.find("s3cr3t"), std::string::npos);
  }
}

TEST(KeySetTest, FindsTheRightEntryAmongMany) {
  std::string text;
  for (int i = 0; i < 200; ++i) {
    text += digestOf("key-" + std::to_string(i)) + " space:s" + std::to_string(i) + "\n";
  }
  auto set = KeySet::parse(text);
  ASSERT_TRUE(set) << set.error().message;
  for (int i = 0; i < 200; ++i) {
    const auto* entry = (*set)->find("key-" + std::to_string(i));
    ASSERT_NE(entry, nullptr) << i;
    EXPECT_EQ(entry->scope.space, "s" + std::to_string(i));
    EXPECT_EQ(entry->line, i + 1);
    EXPECT_EQ((*set)->find("key-" + std::to_string(i) + "x"), nullptr);
  }
  // The first and the last entry, where an early exit or an off-by-one would show.
  EXPECT_EQ((*set)->find("key-0"), &(*set)->entries().front());
  EXPECT_EQ((*set)->find("key-199"), &(*set)->entries().back());
}

TEST(KeySetTest, LoadNamesTheFile) {
  const auto path = std::filesystem::temp_directory_path() /
                    ("eg-keys-" + std::to_string(std::random_device{}()));
  EXPECT_EQ(KeySet::load(path.string()).error().message,
            "cannot read access keys file \"" + path.string() + "\": No such file or directory");
  {
    std::ofstream out(path);
    out << digestOf("k") << " admin\nnonsense\n";
  }
  EXPECT_EQ(KeySet::load(path.string()).error().message,
            "access keys file \"" + path.string() +
                "\": line 2: want \"<sha256 hex of the key> <scope>\", found 1 field(s)");
  {
    std::ofstream out(path);
    out << digestOf("k") << " admin\n";
  }
  auto set = KeySet::load(path.string());
  ASSERT_TRUE(set) << set.error().message;
  EXPECT_NE((*set)->find("k"), nullptr);
  std::filesystem::remove(path);
}

TEST(KeySetTest, NewKeysAreRandomAndTheirLineParses) {
  std::set<std::string> seen;
  for (int i = 0; i < 50; ++i) {
    auto key = generateKey();
    ASSERT_TRUE(key) << key.error().message;
    ASSERT_EQ(key->size(), 43u);  // 32 bytes, base64url without padding
    for (char c : *key) {
      EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') << *key;
    }
    EXPECT_TRUE(seen.insert(*key).second);
  }
  const std::string key = *generateKey();
  const std::string line = fileLine(key, Scope{Scope::Kind::kSpaceRead, "a"});
  EXPECT_EQ(line, digestOf(key) + " space:a:read");
  auto set = KeySet::parse(line + "\n");
  ASSERT_TRUE(set) << set.error().message;
  ASSERT_NE((*set)->find(key), nullptr);
  EXPECT_EQ((*set)->find(key)->scope.text(), "space:a:read");
}

TEST(KeySetTest, BearerTokens) {
  EXPECT_EQ(bearerToken("Bearer abc"), "abc");
  EXPECT_EQ(bearerToken("bearer abc"), "abc");  // as the SDK sends it
  EXPECT_EQ(bearerToken("BEARER abc"), "abc");
  EXPECT_EQ(bearerToken("Bearer   abc  "), "abc");
  EXPECT_EQ(bearerToken("Bearer a-b_c.d~e+f/g="), "a-b_c.d~e+f/g=");
  for (const char* bad : {"", "Bearer", "Bearer ", "Bearer    ", "Bearerabc", "Basic abc",
                          "abc", " Bearer abc", "Bearer a b", "Bearer a\x01", "Bearer \xc3\xa9"}) {
    EXPECT_FALSE(bearerToken(bad)) << bad;
  }
}

}  // namespace
}  // namespace eg::access
