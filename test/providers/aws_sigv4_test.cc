#include "providers/aws/sigv4.h"

#include <atomic>
#include <ostream>
#include <thread>

#include <gtest/gtest.h>

namespace eg::providers::sigv4 {
namespace {

using namespace std::chrono_literals;

// The example credentials, date, region and service of AWS's published Signature
// Version 4 test suite (docs.aws.amazon.com/general/latest/gr/signature-v4-test-suite.html,
// as kept in awslabs/aws-c-auth tests/aws-signing-test-suite/v4).
const AwsCredentials kSuiteCredentials{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                                       ""};
constexpr std::string_view kSuiteToken =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfp"
    "SPfIeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQ"
    "DYwT7WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+s"
    "cqKmlzm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";
const auto kSuiteTime = std::chrono::sys_days{std::chrono::year{2015} / 8 / 30} + 12h + 36min;
constexpr std::string_view kHost = "example.amazonaws.com";

struct Vector {
  const char* name;
  const char* method;
  const char* target;
  Headers headers;  // besides Host
  const char* body;
  std::string_view token;
  bool contentSha256;
  const char* signedHeaders;
  const char* signature;
  friend void PrintTo(const Vector& v, std::ostream* os) { *os << v.name; }
};

std::string authorization(const Vector& v) {
  return std::string("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/"
                     "aws4_request, SignedHeaders=") +
         v.signedHeaders + ", Signature=" + v.signature;
}

SigningRequest requestOf(const Vector& v) {
  SigningRequest r;
  r.method = v.method;
  r.target = v.target;
  r.headers.emplace_back("Host", std::string(kHost));
  r.headers.insert(r.headers.end(), v.headers.begin(), v.headers.end());
  r.payload = v.body;
  r.region = "us-east-1";
  r.service = "service";
  r.contentSha256Header = v.contentSha256;
  return r;
}

class SuiteVectorTest : public ::testing::TestWithParam<Vector> {};

TEST_P(SuiteVectorTest, AuthorizationMatchesThePublishedSignature) {
  const Vector& v = GetParam();
  AwsCredentials credentials = kSuiteCredentials;
  credentials.sessionToken = std::string(v.token);
  const SignedHeaders signedHeaders = sign(requestOf(v), credentials, kSuiteTime);
  EXPECT_EQ(signedHeaders.authorization, authorization(v));
  EXPECT_EQ(signedHeaders.signedHeaderNames, v.signedHeaders);
  ASSERT_FALSE(signedHeaders.headers.empty());
  EXPECT_EQ(signedHeaders.headers.front(), (std::pair<std::string, std::string>(
                                               "X-Amz-Date", "20150830T123600Z")));
  EXPECT_EQ(signedHeaders.headers.back().first, "Authorization");
  bool hasToken = false;
  for (const auto& [name, value] : signedHeaders.headers) {
    if (name == "X-Amz-Security-Token") {
      hasToken = true;
      EXPECT_EQ(value, v.token);
    }
  }
  EXPECT_EQ(hasToken, !v.token.empty());
}

const Headers kNone;

INSTANTIATE_TEST_SUITE_P(
    Aws, SuiteVectorTest,
    ::testing::Values(
        Vector{"get_vanilla", "GET", "/", kNone, "", "", false, "host;x-amz-date",
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"post_vanilla", "POST", "/", kNone, "", "", false, "host;x-amz-date",
               "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
        Vector{"get_vanilla_query_order_key_case", "GET", "/?Param2=value2&Param1=value1", kNone,
               "", "", false, "host;x-amz-date",
               "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
        Vector{"get_vanilla_query_order_encoded", "GET",
               "/?Param-3=Value3&Param=Value2&%E1%88%B4=Value1", kNone, "", "", false,
               "host;x-amz-date",
               "371d3713e185cc334048618a97f809c9ffe339c62934c032af5a0e595648fcac"},
        Vector{"get_vanilla_query_unreserved", "GET",
               "/?-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
               "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
               kNone, "", "", false, "host;x-amz-date",
               "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
        Vector{"get_vanilla_utf8_query", "GET", "/?\xE1\x88\xB4=bar", kNone, "", "", false,
               "host;x-amz-date",
               "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
        Vector{"get_vanilla_empty_query_key", "GET", "/?Param1=value1", kNone, "", "", false,
               "host;x-amz-date",
               "a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
        Vector{"post_vanilla_query", "POST", "/?Param1=value1", kNone, "", "", false,
               "host;x-amz-date",
               "28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
        Vector{"get_header_key_duplicate", "GET", "/",
               Headers{{"My-Header1", "value2"}, {"My-Header1", "value2"},
                       {"My-Header1", "value1"}},
               "", "", false, "host;my-header1;x-amz-date",
               "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
        Vector{"get_header_value_multiline", "GET", "/",
               Headers{{"My-Header1", "value1\n  value2\n     value3"}}, "", "", false,
               "host;my-header1;x-amz-date",
               "cfd34249e4b1c8d6b91ef74165d41a32e5fab3306300901bb65a51a73575eefd"},
        Vector{"get_header_value_order", "GET", "/",
               Headers{{"My-Header1", "value4"}, {"My-Header1", "value1"},
                       {"My-Header1", "value3"}, {"My-Header1", "value2"}},
               "", "", false, "host;my-header1;x-amz-date",
               "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
        Vector{"get_header_value_trim", "GET", "/",
               Headers{{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}, "", "",
               false, "host;my-header1;my-header2;x-amz-date",
               "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
        Vector{"get_unreserved", "GET",
               "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", kNone, "",
               "", false, "host;x-amz-date",
               "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
        Vector{"get_utf8", "GET", "/\xE1\x88\xB4", kNone, "", "", false, "host;x-amz-date",
               "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
        Vector{"get_space", "GET", "/example space/", kNone, "", "", false, "host;x-amz-date",
               "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
        Vector{"get_slash_normalized", "GET", "//", kNone, "", "", false, "host;x-amz-date",
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get_slashes_normalized", "GET", "//example//", kNone, "", "", false,
               "host;x-amz-date",
               "9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
        Vector{"get_relative_normalized", "GET", "/example/..", kNone, "", "", false,
               "host;x-amz-date",
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get_relative_relative_normalized", "GET", "/example1/example2/../..", kNone, "",
               "", false, "host;x-amz-date",
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get_slash_dot_slash_normalized", "GET", "/./", kNone, "", "", false,
               "host;x-amz-date",
               "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
        Vector{"get_slash_pointless_dot_normalized", "GET", "/./example", kNone, "", "", false,
               "host;x-amz-date",
               "ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
        Vector{"post_header_key_sort", "POST", "/", Headers{{"My-Header1", "value1"}}, "", "",
               false, "host;my-header1;x-amz-date",
               "c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
        Vector{"post_header_value_case", "POST", "/", Headers{{"My-Header1", "VALUE1"}}, "", "",
               false, "host;my-header1;x-amz-date",
               "cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
        Vector{"post_sts_header_before", "POST", "/", kNone, "", kSuiteToken, false,
               "host;x-amz-date;x-amz-security-token",
               "85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead"},
        Vector{"get_vanilla_with_session_token", "GET", "/", kNone, "",
               "6e86291e8372ff2a2260956d9b8aae1d763fbf315fa00fa31553b73ebf194267", false,
               "host;x-amz-date;x-amz-security-token",
               "07ec1639c89043aa0e3e2de82b96708f198cceab042d4a97044c66dd9f74e7f8"},
        Vector{"post_x_www_form_urlencoded", "POST", "/",
               Headers{{"Content-Type", "application/x-www-form-urlencoded"}}, "Param1=value1", "",
               false, "content-type;host;x-amz-date",
               "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
        Vector{"post_x_www_form_urlencoded_parameters", "POST", "/",
               Headers{{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
               "Param1=value1", "", false, "content-type;host;x-amz-date",
               "1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
        // The newer suite signs the body hash header and Content-Length too.
        Vector{"post_x_www_form_urlencoded_signed_body", "POST", "/",
               Headers{{"Content-Type", "application/x-www-form-urlencoded"},
                       {"Content-Length", "13"}},
               "Param1=value1", "", true,
               "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
               "d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b"},
        Vector{"post_x_www_form_urlencoded_parameters_signed_body", "POST", "/",
               Headers{{"Content-Type", "application/x-www-form-urlencoded; charset=utf-8"},
                       {"Content-Length", "13"}},
               "Param1=value1", "", true,
               "content-length;content-type;host;x-amz-content-sha256;x-amz-date",
               "328d1b9eaadca9f5818ef05e8392801e091653bafec24fcab71e7344e7f51422"}),
    [](const auto& info) { return std::string(info.param.name); });

SigningRequest withDate(SigningRequest r, Headers extra = {}) {
  r.headers.emplace_back("X-Amz-Date", "20150830T123600Z");
  r.headers.insert(r.headers.end(), extra.begin(), extra.end());
  return r;
}

TEST(SigV4StepsTest, CanonicalRequestsMatchTheSuite) {
  SigningRequest trim = withDate(requestOf(Vector{"", "GET", "/", Headers{{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}, "", "", false, "", ""}));
  EXPECT_EQ(canonicalRequest(trim),
            "GET\n/\n\nhost:example.amazonaws.com\nmy-header1:value1\nmy-header2:\"a b c\"\n"
            "x-amz-date:20150830T123600Z\n\nhost;my-header1;my-header2;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  SigningRequest utf8 = withDate(requestOf(Vector{"", "GET", "/\xE1\x88\xB4", kNone, "", "", false, "", ""}));
  EXPECT_EQ(canonicalRequest(utf8),
            "GET\n/%E1%88%B4\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

  SigningRequest form = withDate(
      requestOf(Vector{"", "POST", "/",
                       Headers{{"Content-Type", "application/x-www-form-urlencoded"},
                               {"Content-Length", "13"}},
                       "Param1=value1", "", false, "", ""}),
      Headers{{"X-Amz-Content-Sha256",
               "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e"}});
  const std::string formCanonical = canonicalRequest(form);
  EXPECT_EQ(formCanonical,
            "POST\n/\n\ncontent-length:13\ncontent-type:application/x-www-form-urlencoded\n"
            "host:example.amazonaws.com\n"
            "x-amz-content-sha256:9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e\n"
            "x-amz-date:20150830T123600Z\n\n"
            "content-length;content-type;host;x-amz-content-sha256;x-amz-date\n"
            "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e");
  EXPECT_EQ(stringToSign("20150830T123600Z", "us-east-1", "service", formCanonical),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "b1edd1d03544c25390e32085d55b57acc9a3961bb59415ff86c45c3d89d16cfb");

  SigningRequest vanilla = withDate(requestOf(Vector{"", "GET", "/", kNone, "", "", false, "", ""}));
  EXPECT_EQ(stringToSign("20150830T123600Z", "us-east-1", "service", canonicalRequest(vanilla)),
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
}

TEST(SigV4StepsTest, CanonicalUriEncodesEachSegmentAgainAndNormalises) {
  EXPECT_EQ(canonicalUri(""), "/");
  EXPECT_EQ(canonicalUri("/"), "/");
  // The wire form is encoded once more, as every service but S3 expects.
  EXPECT_EQ(canonicalUri("/a%20b/c"), "/a%2520b/c");
  EXPECT_EQ(canonicalUri("/2015-03-31/functions/arn%3Aaws%3Alambda/invocations"),
            "/2015-03-31/functions/arn%253Aaws%253Alambda/invocations");
  EXPECT_EQ(canonicalUri("/a+b/!*'()$,;=:@&"), "/a%2Bb/%21%2A%27%28%29%24%2C%3B%3D%3A%40%26");
  EXPECT_EQ(canonicalUri("/a//b///c/"), "/a/b/c/");
  EXPECT_EQ(canonicalUri("/a/./b/../c"), "/a/c");
  EXPECT_EQ(canonicalUri("/.."), "/");
  EXPECT_EQ(canonicalUri("/../../x"), "/x");
}

TEST(SigV4StepsTest, CanonicalQuerySortsByEncodedNameThenValue) {
  EXPECT_EQ(canonicalQuery(""), "");
  EXPECT_EQ(canonicalQuery("b=2&a=3&a=1&A=0"), "A=0&a=1&a=3&b=2");
  EXPECT_EQ(canonicalQuery("x"), "x=");
  EXPECT_EQ(canonicalQuery("=v&&k=1"), "k=1");  // parameters without a name are dropped
  EXPECT_EQ(canonicalQuery("a+b=c%20d&e=f=g"), "a%20b=c%20d&e=f%3Dg");
  EXPECT_EQ(canonicalQuery("k=%2B%2f!"), "k=%2B%2F%21");
  EXPECT_EQ(canonicalQuery("k=%zz"), "k=%25zz");
}

// Found by fuzz/sigv4_fuzz.cc: an x-amz-content-sha256 header given with whitespace
// around its value was signed trimmed among the headers, but put untrimmed in the hash
// line, where the service (reading the header trimmed) puts it trimmed: a signature
// the service would refuse.
TEST(SigV4StepsTest, ContentSha256HeaderIsTheHashLineAsTheServiceReadsIt) {
  SigningRequest r;
  r.method = "PUT";
  r.target = "/bucket/key";
  r.headers = {{"Host", "s3.amazonaws.com"}, {"X-Amz-Content-Sha256", "  UNSIGNED-PAYLOAD \t"}};
  r.payload = "payload";
  const std::string canonical = canonicalRequest(r);
  EXPECT_EQ(canonical.substr(canonical.rfind('\n') + 1), "UNSIGNED-PAYLOAD");
  EXPECT_NE(canonical.find("\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"), std::string::npos);
}

TEST(SigV4StepsTest, Helpers) {
  EXPECT_EQ(amzDate(kSuiteTime), "20150830T123600Z");
  EXPECT_EQ(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(uriEncode("aZ09-._~ /%\xE1\x88\xB4"), "aZ09-._~%20%2F%25%E1%88%B4");
  // RFC 4231 test case 2.
  EXPECT_EQ(hex(hmacSha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(SigV4StepsTest, SigningKeyIsDerivedPerDayRegionAndService) {
  // The derivation example of the AWS documentation.
  EXPECT_EQ(hex(signingKey("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1",
                           "iam")),
            "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
  const std::string a = signingKey("secret", "20240101", "us-east-1", "lambda");
  EXPECT_EQ(a, signingKey("secret", "20240101", "us-east-1", "lambda"));
  EXPECT_NE(a, signingKey("secret", "20240102", "us-east-1", "lambda"));
  EXPECT_NE(a, signingKey("secret", "20240101", "eu-west-1", "lambda"));
  EXPECT_NE(a, signingKey("secret", "20240101", "us-east-1", "sqs"));
  EXPECT_NE(a, signingKey("secret2", "20240101", "us-east-1", "lambda"));
}

TEST(SigV4StepsTest, SigningIsThreadSafe) {
  const Vector v{"", "POST", "/", kNone, "", "", false, "", ""};
  const std::string expected = sign(requestOf(v), kSuiteCredentials, kSuiteTime).authorization;
  std::vector<std::thread> threads;
  std::atomic<int> mismatches{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 500; ++i) {
        // Other keys churn the cache while the suite key is being read.
        AwsCredentials other{"AK", "secret-" + std::to_string(t * 1000 + i), ""};
        sign(requestOf(v), other, kSuiteTime + std::chrono::hours(24 * (i % 7)));
        if (sign(requestOf(v), kSuiteCredentials, kSuiteTime).authorization != expected) {
          ++mismatches;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(SigV4StepsTest, AuthorizationAndHopByHopHeadersAreNotSigned) {
  const Vector plain{"", "GET", "/", kNone, "", "", false, "", ""};
  const Vector noisy{"", "GET", "/",
                     Headers{{"Authorization", "old"}, {"Connection", "keep-alive"},
                             {"User-Agent", "x"}, {"Expect", "100-continue"},
                             {"X-Amzn-Trace-Id", "Root=1"}},
                     "", "", false, "", ""};
  EXPECT_EQ(sign(requestOf(noisy), kSuiteCredentials, kSuiteTime).authorization,
            sign(requestOf(plain), kSuiteCredentials, kSuiteTime).authorization);
}

}  // namespace
}  // namespace eg::providers::sigv4
