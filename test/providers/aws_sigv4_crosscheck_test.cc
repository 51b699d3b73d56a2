// Signs a few hundred generated requests with sigv4::sign and with the `aws4` npm
// package (run by node: aws_sign_reference.mjs) and requires equal Authorization
// headers: methods, paths with reserved and percent-encoded characters, dot segments
// and repeated slashes, queries with repeated, empty and UTF-8 names and values,
// headers with odd spacing and case, empty and binary payloads, session tokens,
// regions, services and dates.
#include "providers/aws/sigv4.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "providers/aws/aws_invokers.h"

namespace eg::providers::sigv4 {
namespace {

namespace json = boost::json;
namespace fs = std::filesystem;

constexpr int kCases = 400;

struct Case {
  std::string method;
  std::string target;
  Headers headers;
  std::string body;
  std::string region;
  std::string service;
  AwsCredentials credentials;
  std::chrono::system_clock::time_point now;
};

class Generator {
 public:
  explicit Generator(std::uint32_t seed) : rng_(seed) {}

  Case next() {
    Case c;
    c.method = pick({"GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"});
    c.service = pick({"lambda", "kinesis", "firehose", "sqs", "service", "execute-api",
                      "dynamodb", "sts"});
    c.region = pick({"us-east-1", "eu-west-1", "ap-southeast-2", "cn-north-1", "us-gov-west-1",
                     "eu-central-1"});
    c.target = path();
    if (chance(0.6)) c.target += "?" + query();
    c.headers.emplace_back(
        "Host", pick({std::string(c.service + "." + c.region + ".amazonaws.com"),
                      std::string("127.0.0.1:") + std::to_string(1024 + below(60000)),
                      std::string("localhost:4566")}));
    std::set<std::string> names{"host"};
    const int extra = below(5);
    for (int i = 0; i < extra; ++i) {
      std::string name = pick({"X-Custom-" + std::to_string(below(50)), std::string("Content-Type"),
                               std::string("X-Amz-Target"), std::string("X-Amz-Invocation-Type"),
                               "x-MiXeD-case-" + std::to_string(below(50))});
      std::string lower = name;
      for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
      if (!names.insert(lower).second) continue;
      std::string value = headerValue();
      // aws4 replaces an empty Content-Type with its own default: not a signing question.
      if (lower == "content-type" && value.empty()) value = "text/plain";
      c.headers.emplace_back(std::move(name), std::move(value));
    }
    if (chance(0.6)) {
      const int size = 1 + below(300);
      for (int i = 0; i < size; ++i) c.body += static_cast<char>(below(256));
      if (!names.count("content-type")) {
        c.headers.emplace_back("Content-Type", "application/octet-stream");
      }
      c.headers.emplace_back("Content-Length", std::to_string(c.body.size()));
    }
    c.credentials.accessKeyId = "AKIA" + text("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16);
    c.credentials.secretAccessKey = text(kBase64, 40);
    if (chance(0.4)) c.credentials.sessionToken = text(kBase64, 100 + below(200)) + "==";
    // Any second from 2000 to 2035.
    c.now = std::chrono::system_clock::time_point(
        std::chrono::seconds(946'684'800 + static_cast<std::int64_t>(below(1'104'537'600))));
    return c;
  }

 private:
  static constexpr std::string_view kBase64 =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

  int below(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  template <class T>
  T pick(std::initializer_list<T> options) {
    return *(options.begin() + below(static_cast<int>(options.size())));
  }
  std::string pick(std::initializer_list<const char*> options) {
    return *(options.begin() + below(static_cast<int>(options.size())));
  }
  std::string text(std::string_view alphabet, int n) {
    std::string out;
    for (int i = 0; i < n; ++i) out += alphabet[below(static_cast<int>(alphabet.size()))];
    return out;
  }
  std::string percent(unsigned char byte) {
    const char* digits = chance(0.5) ? "0123456789ABCDEF" : "0123456789abcdef";
    return {'%', digits[byte >> 4], digits[byte & 15]};
  }

  // A path as it goes on the wire: unreserved and sub-delimiter characters, '%XX'
  // escapes of any byte, and now and then "." / ".." segments and empty ones.
  std::string path() {
    if (chance(0.1)) return "/";
    std::string out;
    const int segments = 1 + below(5);
    for (int s = 0; s < segments; ++s) {
      out += '/';
      if (chance(0.08)) {
        out += pick({".", ".."});
        continue;
      }
      if (chance(0.08)) continue;  // an empty segment: "//"
      const int tokens = below(9);
      for (int t = 0; t < tokens; ++t) {
        const int kind = below(3);
        if (kind == 0) out += text("abcXYZ019-._~", 1);
        if (kind == 1) out += text("!$&'()*+,;=:@", 1);
        if (kind == 2) out += percent(static_cast<unsigned char>(below(256)));
      }
    }
    if (chance(0.2)) out += '/';
    return out;
  }

  // A decoded query name or value: ASCII (reserved characters included) and UTF-8.
  std::string decoded(int maxPieces) {
    std::string out;
    const int pieces = below(maxPieces + 1);
    for (int i = 0; i < pieces; ++i) {
      out += pick({"a", "Z", "9", "-", "_", ".", "~", " ", "+", "=", "&", "%", "/", "?", ":", "@",
                   "!", "*", "'", "(", ")", "$", ",", ";", "[", "]", "\"", "<", "\xC3\xA9",
                   "\xE1\x88\xB4", "\xF0\x9F\x98\x80", "Param", "value"});
    }
    return out;
  }

  // `text` encoded the ways clients do: '+' or %20 for space, upper- or lower-case
  // escapes, some safe characters left bare.
  std::string encode(std::string_view text, bool isValue) {
    std::string out;
    for (const char ch : text) {
      const auto c = static_cast<unsigned char>(ch);
      const bool unreserved = std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~';
      if (unreserved) {
        out += ch;
      } else if (c == ' ' && chance(0.5)) {
        out += '+';
      } else if ((c == '!' || c == '*' || c == '\'' || c == '(' || c == ')' || c == ':' ||
                  c == '@' || c == '/' || c == '?' || c == ',' || c == '$' || c == ';' ||
                  (isValue && c == '=')) &&
                 chance(0.5)) {
        out += ch;
      } else {
        out += percent(c);
      }
    }
    return out;
  }

  std::string query() {
    std::string out;
    const int params = 1 + below(5);
    std::string lastKey = "k";
    for (int i = 0; i < params; ++i) {
      if (i > 0) out += '&';
      if (chance(0.05)) continue;  // an empty parameter: "&&"
      std::string key = chance(0.2) ? lastKey : decoded(4);
      if (key.empty() && chance(0.7)) key = "k" + std::to_string(below(10));
      lastKey = key;
      out += encode(key, false);
      if (chance(0.15)) continue;  // a name without '='
      out += '=';
      out += encode(decoded(5), true);
    }
    return out;
  }

  // Printable ASCII with spaces and tabs inside and around.
  std::string headerValue() {
    std::string out;
    const int n = below(20);
    for (int i = 0; i < n; ++i) {
      if (chance(0.2)) {
        out += pick({" ", "  ", "\t", " \t "});
      } else {
        out += static_cast<char>(33 + below(94));
      }
    }
    return out;
  }

  std::mt19937 rng_;
};

json::value toJson(const Case& c) {
  json::array headers;
  for (const auto& [name, value] : c.headers) headers.push_back(json::array{name, value});
  return json::object{{"method", c.method},
                      {"target", c.target},
                      {"headers", std::move(headers)},
                      {"body", base64Encode(c.body)},
                      {"region", c.region},
                      {"service", c.service},
                      {"accessKeyId", c.credentials.accessKeyId},
                      {"secretAccessKey", c.credentials.secretAccessKey},
                      {"sessionToken", c.credentials.sessionToken},
                      {"amzDate", amzDate(c.now)}};
}

// The reference signatures, one per case, from node + aws4.
std::vector<std::string> referenceSignatures(const std::vector<Case>& cases) {
  const fs::path script = fs::path(__FILE__).parent_path() / "aws_sign_reference.mjs";
  const fs::path input =
      fs::temp_directory_path() / ("eg_sigv4_cases_" + std::to_string(::getpid()) + ".json");
  {
    json::array all;
    for (const Case& c : cases) all.push_back(toJson(c));
    std::ofstream(input) << json::serialize(all);
  }
  const std::string command = "node '" + script.string() + "' < '" + input.string() + "' 2>&1";
  std::vector<std::string> lines;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) return lines;
  std::string output;
  char buffer[4096];
  while (const std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) output.append(buffer, n);
  const int status = ::pclose(pipe);
  fs::remove(input);
  if (status != 0) {
    ADD_FAILURE() << "node aws4 reference signer failed (" << status << "): " << output;
    return lines;
  }
  std::size_t start = 0;
  while (start < output.size()) {
    const std::size_t end = output.find('\n', start);
    lines.push_back(output.substr(start, end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return lines;
}

TEST(SigV4CrossCheckTest, AgreesWithTheAws4PackageOnGeneratedRequests) {
  Generator generator(20150830);
  std::vector<Case> cases;
  for (int i = 0; i < kCases; ++i) cases.push_back(generator.next());

  const std::vector<std::string> expected = referenceSignatures(cases);
  ASSERT_EQ(expected.size(), cases.size()) << "node with aws4 (npm install in test/e2e) is needed";

  int mismatches = 0;
  int withQuery = 0;
  int withToken = 0;
  int withBody = 0;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SigningRequest request;
    request.method = c.method;
    request.target = c.target;
    request.headers = c.headers;
    request.payload = c.body;
    request.region = c.region;
    request.service = c.service;
    const std::string mine = sign(request, c.credentials, c.now).authorization;
    withQuery += c.target.find('?') != std::string::npos;
    withToken += !c.credentials.sessionToken.empty();
    withBody += !c.body.empty();
    if (mine != expected[i] && ++mismatches <= 5) {
      ADD_FAILURE() << "case " << i << ": " << json::serialize(toJson(c)) << "\n  ours:   " << mine
                    << "\n  aws4:   " << expected[i] << "\n  canonical request:\n"
                    << canonicalRequest(request);
    }
  }
  EXPECT_EQ(mismatches, 0);
  // The generator covers what it claims to.
  EXPECT_GT(withQuery, kCases / 3);
  EXPECT_GT(withToken, kCases / 5);
  EXPECT_GT(withBody, kCases / 3);
}

}  // namespace
}  // namespace eg::providers::sigv4
