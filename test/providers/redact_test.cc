#include "providers/redact.h"

#include <gtest/gtest.h>

#include "providers/builtin.h"

namespace eg::providers {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

class RedactTest : public ::testing::Test {
 protected:
  RedactTest() { registerBuiltinProviders(registry_, client_); }
  net::HttpClient client_;
  ProviderRegistry registry_;
};

TEST_F(RedactTest, BuiltinTypesAreRegistered) {
  for (const char* type : {"http", "awslambda", "awskinesis", "awsfirehose", "awssqs"}) {
    EXPECT_NE(registry_.find(type), nullptr) << type;
  }
  EXPECT_EQ(registry_.find("gcloudfunction"), nullptr);
  EXPECT_EQ(registry_.find("HTTP"), nullptr);
  EXPECT_EQ(registry_.find(""), nullptr);
}

TEST_F(RedactTest, HttpHeaderValuesAreRedactedNamesKept) {
  const json::object provider = obj(
      R"({"url":"http://a/fn","headers":{"x-functions-key":"k-123","Authorization":"Bearer t"},"timeout":100})");
  const json::object redacted = redactedProvider(registry_, "http", provider);
  EXPECT_EQ(redacted, obj(R"({"url":"http://a/fn","headers":{"x-functions-key":"***","Authorization":"***"},"timeout":100})"));
  EXPECT_EQ(json::serialize(redacted).find("k-123"), std::string::npos);
  // The input is untouched.
  EXPECT_EQ(provider.at("headers").at("x-functions-key"), "k-123");
}

TEST_F(RedactTest, MalformedSecretFieldIsRedactedWhole) {
  const json::object redacted =
      redactedProvider(registry_, "http", obj(R"({"url":"http://a/","headers":"Authorization: x"})"));
  EXPECT_EQ(redacted, obj(R"({"url":"http://a/","headers":"***"})"));
}

TEST_F(RedactTest, AwsCredentialsAreRedacted) {
  for (const char* type : {"awslambda", "awskinesis", "awsfirehose", "awssqs"}) {
    const json::object redacted = redactedProvider(
        registry_, type,
        obj(R"({"arn":"arn:aws:lambda:us-east-1:1:function:f","region":"us-east-1",)"
            R"("awsAccessKeyId":"AKID","awsSecretAccessKey":"SECRET","awsSessionToken":"TOK"})"));
    EXPECT_EQ(redacted,
              obj(R"({"arn":"arn:aws:lambda:us-east-1:1:function:f","region":"us-east-1",)"
                  R"("awsAccessKeyId":"***","awsSecretAccessKey":"***","awsSessionToken":"***"})"))
        << type;
  }
}

TEST_F(RedactTest, UnknownTypeIsRedactedEntirely) {
  const json::object redacted =
      redactedProvider(registry_, "mystery", obj(R"({"url":"http://a/","token":"t","n":{"k":"v"}})"));
  EXPECT_EQ(redacted, obj(R"({"url":"***","token":"***","n":{"k":"***"}})"));
}

}  // namespace
}  // namespace eg::providers
