#include "providers/aws/aws_config.h"

#include <functional>
#include <optional>
#include <ostream>

#include <gtest/gtest.h>

#include "model/limits.h"

namespace eg::providers {
namespace {

namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

struct Case {
  AwsService service;
  const char* type;
  const char* target;
  friend void PrintTo(const Case& c, std::ostream* os) { *os << c.type; }
};

class AwsConfigTest : public ::testing::TestWithParam<Case> {
 protected:
  // A valid provider of this type, with `extra` fields merged in.
  json::object provider(std::string_view extra = "{}") const {
    json::object p{{GetParam().target, "target-1"}, {"region", "us-east-1"}};
    for (const auto& m : obj(extra)) p[m.key()] = m.value();
    return p;
  }
  std::string errorOf(const json::object& p) const {
    auto config = parseAwsProvider(GetParam().service, p);
    if (config) return "<ok>";
    EXPECT_EQ(config.error().kind, ErrorKind::kInvalid);
    return config.error().message;
  }
};

TEST_P(AwsConfigTest, NamesMatchTheSpec) {
  EXPECT_STREQ(awsTypeName(GetParam().service), GetParam().type);
  EXPECT_STREQ(awsTargetField(GetParam().service), GetParam().target);
}

TEST_P(AwsConfigTest, MinimalProvider) {
  auto config = parseAwsProvider(GetParam().service, provider());
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->service, GetParam().service);
  EXPECT_EQ(config->target, "target-1");
  EXPECT_EQ(config->region, "us-east-1");
  EXPECT_FALSE(config->credentials);
  EXPECT_FALSE(config->endpoint);
}

TEST_P(AwsConfigTest, TargetAndRegionAreRequired) {
  json::object p = provider();
  p.erase(GetParam().target);
  EXPECT_EQ(errorOf(p),
            std::string("Missing required field \"") + GetParam().target + "\" in provider.");
  p = provider();
  p.erase("region");
  EXPECT_EQ(errorOf(p), R"(Missing required field "region" in provider.)");
  p = provider();
  p["region"] = nullptr;
  EXPECT_EQ(errorOf(p), R"(Missing required field "region" in provider.)");
}

TEST_P(AwsConfigTest, TargetAndRegionMustBeNonEmptyStrings) {
  const std::string target = GetParam().target;
  json::object p = provider();
  p[target] = 7;
  EXPECT_EQ(errorOf(p), "Field \"provider." + target + "\" must be a string.");
  p[target] = "";
  EXPECT_EQ(errorOf(p), "Field \"provider." + target + "\" must not be empty.");
  p = provider();
  p["region"] = json::array{"us-east-1"};
  EXPECT_EQ(errorOf(p), R"(Field "provider.region" must be a string.)");
  p["region"] = "";
  EXPECT_EQ(errorOf(p), R"(Field "provider.region" must not be empty.)");
}

TEST_P(AwsConfigTest, RegionMustBeAHostNameLabel) {
  for (const char* region : {"us east 1", "us-east-1.evil.com", "us-east-1/x", "US-EAST-1"}) {
    json::object p = provider();
    p["region"] = region;
    EXPECT_EQ(errorOf(p),
              R"(Field "provider.region" must be an AWS region name such as "us-east-1".)")
        << region;
  }
  json::object p = provider();
  p["region"] = "cn-northwest-1";
  EXPECT_EQ(errorOf(p), "<ok>");
}

TEST_P(AwsConfigTest, CredentialsComeTogether) {
  auto config = parseAwsProvider(
      GetParam().service,
      provider(R"({"awsAccessKeyId":"AKID","awsSecretAccessKey":"SECRET","awsSessionToken":"TOK"})"));
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_TRUE(config->credentials);
  EXPECT_EQ(config->credentials->accessKeyId, "AKID");
  EXPECT_EQ(config->credentials->secretAccessKey, "SECRET");
  EXPECT_EQ(config->credentials->sessionToken, "TOK");

  config = parseAwsProvider(GetParam().service,
                            provider(R"({"awsAccessKeyId":"AKID","awsSecretAccessKey":"SECRET"})"));
  ASSERT_TRUE(config);
  ASSERT_TRUE(config->credentials);
  EXPECT_EQ(config->credentials->sessionToken, "");

  EXPECT_EQ(errorOf(provider(R"({"awsAccessKeyId":"AKID"})")),
            R"(Field "provider.awsSecretAccessKey" is required when "awsAccessKeyId" is given.)");
  EXPECT_EQ(errorOf(provider(R"({"awsSecretAccessKey":"SECRET"})")),
            R"(Field "provider.awsAccessKeyId" is required when "awsSecretAccessKey" is given.)");
  EXPECT_EQ(errorOf(provider(R"({"awsSessionToken":"TOK"})")),
            R"(Fields "provider.awsAccessKeyId" and "provider.awsSecretAccessKey" are required when "awsSessionToken" is given.)");
}

TEST_P(AwsConfigTest, EmptyOrNullCredentialsMeanTheEnvironmentChain) {
  auto config = parseAwsProvider(
      GetParam().service,
      provider(R"({"awsAccessKeyId":"","awsSecretAccessKey":null,"awsSessionToken":""})"));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_FALSE(config->credentials);
}

TEST_P(AwsConfigTest, CredentialsMustBeStringsAndErrorsDoNotQuoteThem) {
  for (const char* field : {"awsAccessKeyId", "awsSecretAccessKey", "awsSessionToken"}) {
    json::object p = provider();
    p[field] = json::object{{"secretish", "value"}};
    const std::string message = errorOf(p);
    EXPECT_EQ(message, std::string("Field \"provider.") + field + "\" must be a string.");
    EXPECT_EQ(message.find("secretish"), std::string::npos);
  }
}

TEST_P(AwsConfigTest, EndpointIsAnHttpUrl) {
  auto config = parseAwsProvider(GetParam().service,
                                 provider(R"({"endpoint":"http://127.0.0.1:4566"})"));
  ASSERT_TRUE(config) << config.error().message;
  ASSERT_TRUE(config->endpoint);
  EXPECT_EQ(config->endpoint->host, "127.0.0.1");
  EXPECT_EQ(config->endpoint->port, 4566);

  EXPECT_EQ(errorOf(provider(R"({"endpoint":"ftp://127.0.0.1:4566"})")),
            R"(Field "provider.endpoint" must be an http or https URL.)");
  EXPECT_EQ(errorOf(provider(R"({"endpoint":4566})")),
            R"(Field "provider.endpoint" must be a string.)");
}

TEST_P(AwsConfigTest, UnknownFieldsAreIgnored) {
  EXPECT_EQ(errorOf(provider(R"({"somethingElse":[1,2,3]})")), "<ok>");
}

TEST_P(AwsConfigTest, TimeoutsAreOptionalMilliseconds) {
  auto config = parseAwsProvider(GetParam().service, provider());
  ASSERT_TRUE(config);
  EXPECT_EQ(config->connectTimeout, std::chrono::milliseconds(5000));
  EXPECT_EQ(config->timeout, std::chrono::milliseconds(30000));
  config = parseAwsProvider(GetParam().service,
                            provider(R"({"timeout":250,"connectTimeout":100})"));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->connectTimeout, std::chrono::milliseconds(100));
  EXPECT_EQ(config->timeout, std::chrono::milliseconds(250));
  EXPECT_NE(errorOf(provider(R"({"timeout":-1})")), "<ok>");
  EXPECT_NE(errorOf(provider(R"({"timeout":"1s"})")), "<ok>");
}

TEST_P(AwsConfigTest, EveryStringIsBounded) {
  const auto letters = [](std::size_t n) { return std::string(n, 'a'); };
  const auto url = [](std::size_t n) { return "http://h/" + std::string(n - 9, 'a'); };
  const bool sqs = GetParam().service == AwsService::kSqs;
  struct Bound {
    std::string field;
    std::size_t max;
    std::function<std::string(std::size_t)> value;
  };
  const Bound bounds[] = {
      {GetParam().target, sqs ? model::kMaxUrlLength : model::kMaxProviderFieldLength,
       sqs ? url : letters},
      {"region", model::kMaxProviderFieldLength, letters},
      {"awsAccessKeyId", model::kMaxProviderFieldLength, letters},
      {"awsSecretAccessKey", model::kMaxProviderFieldLength, letters},
      {"awsSessionToken", model::kMaxTokenLength, letters},
      {"endpoint", model::kMaxUrlLength, url},
  };
  for (const auto& b : bounds) {
    json::object p = provider(R"({"awsAccessKeyId":"k","awsSecretAccessKey":"s"})");
    p[b.field] = b.value(b.max);
    EXPECT_EQ(errorOf(p), "<ok>") << b.field;
    p[b.field] = b.value(b.max + 1);
    EXPECT_EQ(errorOf(p), "Field \"provider." + b.field + "\" must be at most " +
                              std::to_string(b.max) + " bytes long.");
  }
}

TEST_P(AwsConfigTest, FactoryValidatesAndMarksSecrets) {
  net::HttpClient client;
  AwsProviderFactory factory(GetParam().service, client);
  EXPECT_TRUE(factory.validate(provider()));
  json::object bad = provider();
  bad.erase("region");
  const Status status = factory.validate(bad);
  ASSERT_FALSE(status);
  EXPECT_EQ(status.error().kind, ErrorKind::kInvalid);

  EXPECT_TRUE(factory.isSecretField("awsAccessKeyId"));
  EXPECT_TRUE(factory.isSecretField("awsSecretAccessKey"));
  EXPECT_TRUE(factory.isSecretField("awsSessionToken"));
  EXPECT_FALSE(factory.isSecretField("region"));
  EXPECT_FALSE(factory.isSecretField("endpoint"));
  EXPECT_FALSE(factory.isSecretField(GetParam().target));

  model::Function function{"default", "f1", GetParam().type, provider(), std::nullopt};
  EXPECT_NE(factory.create(function), nullptr);
}

INSTANTIATE_TEST_SUITE_P(
    Types, AwsConfigTest,
    ::testing::Values(Case{AwsService::kLambda, "awslambda", "arn"},
                      Case{AwsService::kKinesis, "awskinesis", "streamName"},
                      Case{AwsService::kFirehose, "awsfirehose", "deliveryStreamName"},
                      Case{AwsService::kSqs, "awssqs", "queueUrl"}),
    [](const auto& info) { return std::string(info.param.type); });

// The JS SDK registers exactly this and expects it accepted.
TEST(AwsLambdaTest, AcceptsTheSdkTestProvider) {
  auto config = parseAwsProvider(AwsService::kLambda, obj(R"({"arn":"arn::::","region":"us-east-1"})"));
  ASSERT_TRUE(config) << config.error().message;
  EXPECT_EQ(config->target, "arn::::");
}

}  // namespace
}  // namespace eg::providers
