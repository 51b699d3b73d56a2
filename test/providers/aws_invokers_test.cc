#include "providers/aws/aws_invokers.h"

#include <chrono>
#include <optional>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "aws_env_guard.h"
#include "aws_test_server.h"

namespace eg::providers {
namespace {

namespace json = boost::json;
using testing::AwsTestServer;
using Reply = AwsTestServer::Reply;

constexpr const char* kKeyId = "AKIDUNITTEST0001";
constexpr const char* kSecret = "unit/test+secret+key0123456789abcdefABCD";
constexpr const char* kToken = "unit-test-session-token-0123456789==";
constexpr const char* kEvent =
    R"({"eventType":"user.created","cloudEventsVersion":"0.1","source":"/t","eventID":"ev-42","data":{"n":1}})";

std::string header(const AwsTestServer::Request& r, std::string_view name) {
  auto it = r.find(name);
  return it == r.end() ? std::string() : std::string(it->value());
}

std::string base64Decode(std::string_view text) {
  static constexpr std::string_view kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  int bits = 0;
  unsigned value = 0;
  for (const char c : text) {
    if (c == '=') break;
    value = (value << 6) | static_cast<unsigned>(kAlphabet.find(c));
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((value >> bits) & 0xFF);
    }
  }
  return out;
}

std::string formValue(std::string_view body, std::string_view name) {
  const std::string key = std::string(name) + "=";
  std::size_t at = 0;
  while (at < body.size()) {
    const std::size_t end = body.find('&', at);
    const std::string_view pair = body.substr(at, end - at);
    if (pair.substr(0, key.size()) == key) {
      std::string out;
      const std::string_view v = pair.substr(key.size());
      for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '%' && i + 2 < v.size()) {
          out += static_cast<char>(std::stoi(std::string(v.substr(i + 1, 2)), nullptr, 16));
          i += 2;
        } else {
          out += v[i] == '+' ? ' ' : v[i];
        }
      }
      return out;
    }
    if (end == std::string_view::npos) break;
    at = end + 1;
  }
  return {};
}

class AwsInvokerTest : public ::testing::Test {
 protected:
  // An invoker of `type` calling `server`, with `extra` provider fields.
  std::unique_ptr<Invoker> invoker(AwsService service, const AwsTestServer& server,
                                   json::object extra = {}) {
    json::object p{{awsTargetField(service), target(service)},
                   {"region", "us-west-2"},
                   {"endpoint", server.url()},
                   {"awsAccessKeyId", kKeyId},
                   {"awsSecretAccessKey", kSecret},
                   {"awsSessionToken", kToken}};
    for (const auto& m : extra) p[m.key()] = m.value();
    AwsProviderFactory factory(service, client_);
    EXPECT_TRUE(factory.validate(p));
    return factory.create(model::Function{"default", "f1", awsTypeName(service), p, std::nullopt});
  }

  static std::string target(AwsService service) {
    switch (service) {
      case AwsService::kLambda: return "arn:aws:lambda:us-west-2:123456789012:function:my-fn";
      case AwsService::kKinesis: return "my-stream";
      case AwsService::kFirehose: return "my-delivery";
      case AwsService::kSqs: return "https://sqs.us-west-2.amazonaws.com/123456789012/my-queue";
    }
    return {};
  }

  Result<CallResult> call(const Invoker& invoker, std::string_view payload = kEvent) {
    boost::asio::io_context ioc;
    std::optional<Result<CallResult>> done;
    boost::asio::co_spawn(
        ioc, [&]() -> boost::asio::awaitable<void> { done.emplace(co_await invoker.call(payload)); },
        boost::asio::detached);
    ioc.run();
    return std::move(*done);
  }

  // The request carries a SigV4 signature that recomputes from what arrived.
  static void expectSigned(const AwsTestServer::Request& r, std::string_view service,
                           bool withToken = true) {
    const std::string authorization = header(r, "Authorization");
    const std::string date = header(r, "X-Amz-Date");
    ASSERT_EQ(date.size(), 16u);
    EXPECT_EQ(authorization.rfind(std::string("AWS4-HMAC-SHA256 Credential=") + kKeyId + "/" +
                                      date.substr(0, 8) + "/us-west-2/" + std::string(service) +
                                      "/aws4_request, SignedHeaders=",
                                  0),
              0u)
        << authorization;
    EXPECT_EQ(header(r, "X-Amz-Security-Token"), withToken ? kToken : "");
    // Recompute over the headers it says it signed, as the service does.
    const std::string names = authorization.substr(
        authorization.find("SignedHeaders=") + 14,
        authorization.find(", Signature=") - authorization.find("SignedHeaders=") - 14);
    sigv4::SigningRequest check;
    check.method = "POST";
    const std::string target(r.target());
    check.target = target;
    std::size_t at = 0;
    while (at <= names.size()) {
      const std::size_t end = names.find(';', at);
      const std::string name = names.substr(at, end - at);
      if (name != "x-amz-date" && name != "x-amz-security-token") {
        check.headers.emplace_back(name, header(r, name));
      }
      if (end == std::string::npos) break;
      at = end + 1;
    }
    check.payload = r.body();
    check.region = "us-west-2";
    check.service = service;
    std::tm tm{};
    strptime(date.c_str(), "%Y%m%dT%H%M%SZ", &tm);
    const auto when = std::chrono::system_clock::from_time_t(timegm(&tm));
    EXPECT_EQ(sigv4::sign(check, {kKeyId, kSecret, withToken ? kToken : ""}, when).authorization,
              authorization);
  }

  static void expectNoSecrets(const std::string& message) {
    EXPECT_EQ(message.find(kSecret), std::string::npos) << message;
    EXPECT_EQ(message.find(kToken), std::string::npos) << message;
    EXPECT_EQ(message.find(kKeyId), std::string::npos) << message;
  }

  testing::AwsEnvGuard env_;
  net::HttpClient client_;
};

TEST_F(AwsInvokerTest, LambdaInvokesTheFunctionOfTheArn) {
  AwsTestServer server([](const AwsTestServer::Request&) -> std::optional<Reply> {
    return Reply{200, {{"Content-Type", "application/json"}}, R"({"statusCode":200})"};
  });
  auto result = call(*invoker(AwsService::kLambda, server));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, R"({"statusCode":200})");
  EXPECT_EQ(result->contentType, "application/json");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& r = requests[0];
  EXPECT_EQ(r.method_string(), "POST");
  EXPECT_EQ(r.target(),
            "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-west-2%3A123456789012%3Afunction%3Amy-fn"
            "/invocations");
  EXPECT_EQ(header(r, "X-Amz-Invocation-Type"), "RequestResponse");
  EXPECT_EQ(header(r, "Host"), "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(r.body(), kEvent);
  expectSigned(r, "lambda");
}

TEST_F(AwsInvokerTest, LambdaFunctionErrorIsAFailedCall) {
  AwsTestServer server([](const AwsTestServer::Request&) -> std::optional<Reply> {
    return Reply{200,
                 {{"Content-Type", "application/json"}, {"X-Amz-Function-Error", "Unhandled"}},
                 R"({"errorMessage":"boom","errorType":"Error"})"};
  });
  auto result = call(*invoker(AwsService::kLambda, server));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(result.error().message,
            R"(function call failed: awslambda Invoke: function error (Unhandled): {"errorMessage":"boom","errorType":"Error"})");
}

struct ErrorCase {
  unsigned status;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string code;
  std::string hint;  // a piece of the hint
  ErrorKind kind;
};

TEST_F(AwsInvokerTest, LambdaErrorsNameTheCodeAndWhatToFix) {
  const std::vector<ErrorCase> cases = {
      {403,
       {{"Content-Type", "application/json"},
        {"x-amzn-ErrorType", "AccessDeniedException:http://internal.amazon.com/coral/"}},
       R"({"Type":"User","Message":"User is not authorized to perform: lambda:InvokeFunction"})",
       "AccessDeniedException", "grant lambda:InvokeFunction", ErrorKind::kRejected},
      {403,
       {{"Content-Type", "application/json"}},
       R"({"__type":"com.amazon.coral.service#UnrecognizedClientException","message":"The security token included in the request is invalid."})",
       "UnrecognizedClientException", "AWS does not know this access key", ErrorKind::kRejected},
      {403,
       {{"Content-Type", "application/json"}},
       R"({"__type":"ExpiredTokenException","message":"The security token included in the request is expired"})",
       "ExpiredTokenException", "the session token has expired", ErrorKind::kRejected},
      {429,
       {{"Content-Type", "application/json"}, {"x-amzn-ErrorType", "TooManyRequestsException"}},
       R"({"Reason":"ReservedFunctionConcurrentInvocationLimitExceeded","message":"Rate Exceeded."})",
       "TooManyRequestsException", "AWS throttled the call", ErrorKind::kUnavailable},
      {403,
       {{"Content-Type", "application/json"}},
       // A signature mismatch quotes the canonical request, token included.
       std::string(R"({"__type":"InvalidSignatureException","message":"The request signature we calculated does not match. x-amz-security-token:)") +
           kToken + " Credential=" + kKeyId + R"("})",
       "InvalidSignatureException", "check the secret access key", ErrorKind::kRejected},
      {404,
       {{"Content-Type", "application/json"}},
       R"({"Type":"User","message":"Function not found: arn:aws:lambda:us-west-2:123456789012:function:my-fn","__type":"ResourceNotFoundException"})",
       "ResourceNotFoundException", "check provider.arn and provider.region",
       ErrorKind::kRejected},
      {500, {{"Content-Type", "text/plain"}}, "oops", "", "", ErrorKind::kUnavailable},
  };
  for (const ErrorCase& c : cases) {
    AwsTestServer server([&](const AwsTestServer::Request&) -> std::optional<Reply> { return Reply{c.status, c.headers, c.body}; });
    auto result = call(*invoker(AwsService::kLambda, server));
    ASSERT_FALSE(result) << c.code;
    const std::string& message = result.error().message;
    EXPECT_EQ(result.error().kind, c.kind) << message;
    EXPECT_EQ(message.rfind("function call failed: awslambda Invoke: http " +
                                std::to_string(c.status),
                            0),
              0u)
        << message;
    EXPECT_NE(message.find(c.code), std::string::npos) << message;
    EXPECT_NE(message.find(c.hint), std::string::npos) << message;
    expectNoSecrets(message);
  }
}

// Async deliveries retry throttling and the services' own failures, and give up on any
// other 4xx at once; the message is the same either way.
TEST_F(AwsInvokerTest, OnlyThrottlingAndServiceFailuresAreRetryable) {
  struct Case {
    AwsService service;
    Reply reply;
    ErrorKind kind;
    std::optional<std::chrono::milliseconds> retryAfter;
    std::string message;  // after "function call failed: "
  };
  using std::chrono::milliseconds;
  const std::vector<Case> cases = {
      {AwsService::kLambda,
       {400, {{"Content-Type", "application/json"}},
        R"({"__type":"ValidationException","message":"1 validation error detected"})"},
       ErrorKind::kRejected, std::nullopt,
       "awslambda Invoke: http 400 ValidationException: 1 validation error detected"},
      {AwsService::kLambda,
       {413, {{"Content-Type", "application/json"}, {"Retry-After", "5"}},
        R"({"__type":"RequestTooLargeException","message":"too large"})"},
       ErrorKind::kRejected, milliseconds(5000),
       "awslambda Invoke: http 413 RequestTooLargeException: too large"},
      {AwsService::kLambda,
       {400, {{"Content-Type", "application/json"}, {"x-amzn-ErrorType", "ThrottlingException"}},
        R"({"message":"Rate exceeded"})"},
       ErrorKind::kUnavailable, std::nullopt,
       "awslambda Invoke: http 400 ThrottlingException: Rate exceeded (AWS throttled the call: "
       "lower the event rate, or raise the limit (Lambda concurrency, Kinesis shards, Firehose "
       "or SQS quotas))"},
      {AwsService::kLambda,
       {429, {{"Content-Type", "application/json"}, {"Retry-After", "2"}},
        R"({"__type":"TooManyRequestsException","message":"Rate Exceeded."})"},
       ErrorKind::kUnavailable, milliseconds(2000),
       "awslambda Invoke: http 429 TooManyRequestsException: Rate Exceeded. (AWS throttled the "
       "call: lower the event rate, or raise the limit (Lambda concurrency, Kinesis shards, "
       "Firehose or SQS quotas))"},
      {AwsService::kLambda, {429, {{"Content-Type", "text/plain"}}, "busy"},
       ErrorKind::kUnavailable, std::nullopt, "awslambda Invoke: http 429"},
      {AwsService::kLambda, {408, {{"Content-Type", "text/plain"}}, ""}, ErrorKind::kUnavailable,
       std::nullopt, "awslambda Invoke: http 408"},
      {AwsService::kLambda,
       {500, {{"Content-Type", "application/json"}},
        R"({"__type":"ServiceException","message":"internal"})"},
       ErrorKind::kUnavailable, std::nullopt,
       "awslambda Invoke: http 500 ServiceException: internal"},
      {AwsService::kKinesis,
       {400, {{"Content-Type", "application/x-amz-json-1.1"}},
        R"({"__type":"ProvisionedThroughputExceededException","message":"Rate exceeded for shard"})"},
       ErrorKind::kUnavailable, std::nullopt,
       "awskinesis PutRecord: http 400 ProvisionedThroughputExceededException: Rate exceeded for "
       "shard (AWS throttled the call: lower the event rate, or raise the limit (Lambda "
       "concurrency, Kinesis shards, Firehose or SQS quotas))"},
      {AwsService::kFirehose,
       {503, {{"Content-Type", "application/x-amz-json-1.1"}, {"Retry-After", "1"}},
        R"({"__type":"ServiceUnavailableException","message":"try later"})"},
       ErrorKind::kUnavailable, milliseconds(1000),
       "awsfirehose PutRecord: http 503 ServiceUnavailableException: try later"},
      {AwsService::kSqs,
       {403, {{"Content-Type", "text/xml"}},
        "<ErrorResponse><Error><Code>RequestThrottled</Code><Message>slow</Message></Error>"
        "</ErrorResponse>"},
       ErrorKind::kUnavailable, std::nullopt,
       "awssqs SendMessage: http 403 RequestThrottled: slow (AWS throttled the call: lower the "
       "event rate, or raise the limit (Lambda concurrency, Kinesis shards, Firehose or SQS "
       "quotas))"},
  };
  for (const Case& c : cases) {
    AwsTestServer server([&](const AwsTestServer::Request&) -> std::optional<Reply> {
      return c.reply;
    });
    auto result = call(*invoker(c.service, server));
    ASSERT_FALSE(result) << c.message;
    EXPECT_EQ(result.error().message, "function call failed: " + c.message);
    EXPECT_EQ(result.error().kind, c.kind) << c.message;
    EXPECT_EQ(result.error().retryAfter, c.retryAfter) << c.message;
  }
}

TEST_F(AwsInvokerTest, TimeoutAndRefusedConnectionAreFailedCalls) {
  AwsTestServer silent([](const AwsTestServer::Request&) -> std::optional<Reply> { return std::nullopt; });
  auto timedOut = call(*invoker(AwsService::kLambda, silent, {{"timeout", 200}}));
  ASSERT_FALSE(timedOut);
  EXPECT_EQ(timedOut.error().kind, ErrorKind::kTimeout);
  EXPECT_NE(timedOut.error().message.find("function call failed: awslambda Invoke: timed out"),
            std::string::npos)
      << timedOut.error().message;

  std::uint16_t closed = 0;
  {
    AwsTestServer gone([](const AwsTestServer::Request&) -> std::optional<Reply> { return Reply{}; });
    closed = gone.port();
  }
  json::object p{{"arn", "fn"}, {"region", "us-east-1"},
                 {"endpoint", "http://127.0.0.1:" + std::to_string(closed)},
                 {"awsAccessKeyId", kKeyId}, {"awsSecretAccessKey", kSecret}};
  AwsProviderFactory factory(AwsService::kLambda, client_);
  auto refused = call(*factory.create(model::Function{"default", "f", "awslambda", p, std::nullopt}));
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error().kind, ErrorKind::kUnavailable);
  EXPECT_NE(refused.error().message.find("cannot call http://127.0.0.1:"), std::string::npos)
      << refused.error().message;
}

TEST_F(AwsInvokerTest, MissingCredentialsFailTheCallNotTheRegistration) {
  AwsTestServer server([](const AwsTestServer::Request&) -> std::optional<Reply> { return Reply{}; });
  json::object p{{"arn", "fn"}, {"region", "us-east-1"}, {"endpoint", server.url()}};
  AwsProviderFactory factory(AwsService::kLambda, client_);
  ASSERT_TRUE(factory.validate(p));
  auto inv = factory.create(model::Function{"default", "f", "awslambda", p, std::nullopt});
  auto result = call(*inv);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(result.error().message.rfind("function call failed: awslambda Invoke: no AWS credentials", 0), 0u)
      << result.error().message;
  EXPECT_TRUE(server.requests().empty());

  // Credentials from the environment, read at call time by the same invoker.
  env_.set("AWS_ACCESS_KEY_ID", kKeyId);
  env_.set("AWS_SECRET_ACCESS_KEY", kSecret);
  auto later = call(*inv);
  ASSERT_TRUE(later) << later.error().message;
  ASSERT_EQ(server.requests().size(), 1u);
  EXPECT_EQ(header(server.requests()[0], "X-Amz-Security-Token"), "");
}

TEST_F(AwsInvokerTest, KinesisPutRecordWithTheEventIdAsPartitionKey) {
  AwsTestServer server([](const AwsTestServer::Request&) -> std::optional<Reply> {
    return Reply{200, {{"Content-Type", "application/x-amz-json-1.1"}},
                 R"({"SequenceNumber":"4960","ShardId":"shardId-000000000000"})"};
  });
  auto result = call(*invoker(AwsService::kKinesis, server));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, R"({"SequenceNumber":"4960","ShardId":"shardId-000000000000"})");
  const auto r = server.requests().at(0);
  EXPECT_EQ(r.target(), "/");
  EXPECT_EQ(header(r, "X-Amz-Target"), "Kinesis_20131202.PutRecord");
  EXPECT_EQ(header(r, "Content-Type"), "application/x-amz-json-1.1");
  const json::object body = json::parse(r.body()).as_object();
  EXPECT_EQ(body.size(), 3u);
  EXPECT_EQ(body.at("StreamName"), "my-stream");
  EXPECT_EQ(body.at("PartitionKey"), "ev-42");
  EXPECT_EQ(base64Decode(body.at("Data").as_string()), kEvent);
  expectSigned(r, "kinesis");
}

TEST_F(AwsInvokerTest, FirehosePutRecord) {
  AwsTestServer server([](const AwsTestServer::Request&) -> std::optional<Reply> {
    return Reply{200, {{"Content-Type", "application/x-amz-json-1.1"}},
                 R"({"RecordId":"r-1","Encrypted":false})"};
  });
  auto result = call(*invoker(AwsService::kFirehose, server));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, R"({"RecordId":"r-1","Encrypted":false})");
  const auto r = server.requests().at(0);
  EXPECT_EQ(header(r, "X-Amz-Target"), "Firehose_20150804.PutRecord");
  EXPECT_EQ(header(r, "Content-Type"), "application/x-amz-json-1.1");
  const json::object body = json::parse(r.body()).as_object();
  EXPECT_EQ(body.size(), 2u);
  EXPECT_EQ(body.at("DeliveryStreamName"), "my-delivery");
  EXPECT_EQ(base64Decode(body.at("Record").at("Data").as_string()), kEvent);
  expectSigned(r, "firehose");
}

TEST_F(AwsInvokerTest, SqsSendMessageToTheQueuePathOnTheOverride) {
  AwsTestServer server([](const AwsTestServer::Request&) -> std::optional<Reply> {
    return Reply{200, {{"Content-Type", "text/xml"}},
                 "<SendMessageResponse><SendMessageResult><MD5OfMessageBody>abc</MD5OfMessageBody>"
                 "<MessageId>5fea7756-0ea4-451a-a703-a558b933e274</MessageId></SendMessageResult>"
                 "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata></SendMessageResponse>"};
  });
  auto result = call(*invoker(AwsService::kSqs, server));
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(json::parse(result->body),
            json::parse(R"({"MessageId":"5fea7756-0ea4-451a-a703-a558b933e274","MD5OfMessageBody":"abc"})"));
  EXPECT_EQ(result->contentType, "application/json");
  const auto r = server.requests().at(0);
  EXPECT_EQ(r.target(), "/123456789012/my-queue");
  EXPECT_EQ(header(r, "Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(formValue(r.body(), "Action"), "SendMessage");
  EXPECT_EQ(formValue(r.body(), "Version"), "2012-11-05");
  EXPECT_EQ(formValue(r.body(), "MessageBody"), kEvent);
  expectSigned(r, "sqs");
}

TEST_F(AwsInvokerTest, SqsXmlErrorsAreMapped) {
  AwsTestServer server([](const AwsTestServer::Request&) -> std::optional<Reply> {
    return Reply{400, {{"Content-Type", "text/xml"}},
                 "<ErrorResponse><Error><Type>Sender</Type>"
                 "<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
                 "<Message>The specified queue does not exist for this wsdl version.</Message>"
                 "</Error><RequestId>r</RequestId></ErrorResponse>"};
  });
  auto result = call(*invoker(AwsService::kSqs, server));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kRejected);
  EXPECT_EQ(result.error().message,
            "function call failed: awssqs SendMessage: http 400 "
            "AWS.SimpleQueueService.NonExistentQueue: The specified queue does not exist for "
            "this wsdl version. (the target does not exist in this region: check "
            "provider.queueUrl and provider.region)");
}

TEST_F(AwsInvokerTest, EndpointWithAPathPrefixAndNoSessionToken) {
  AwsTestServer server([](const AwsTestServer::Request&) -> std::optional<Reply> { return Reply{200, {}, "{}"}; });
  json::object p{{"arn", "my-fn"}, {"region", "us-west-2"},
                 {"endpoint", server.url() + "/prefix/"},
                 {"awsAccessKeyId", kKeyId}, {"awsSecretAccessKey", kSecret}};
  AwsProviderFactory factory(AwsService::kLambda, client_);
  auto result = call(*factory.create(model::Function{"default", "f", "awslambda", p, std::nullopt}));
  ASSERT_TRUE(result) << result.error().message;
  const auto r = server.requests().at(0);
  EXPECT_EQ(r.target(), "/prefix/2015-03-31/functions/my-fn/invocations");
  expectSigned(r, "lambda", /*withToken=*/false);
}

AwsProviderConfig configOf(AwsService service, std::string target, std::string region,
                           std::optional<std::string> endpoint = std::nullopt) {
  AwsProviderConfig c;
  c.service = service;
  c.target = std::move(target);
  c.region = std::move(region);
  if (endpoint) c.endpoint = *net::Url::parse(*endpoint);
  return c;
}

std::string urlOf(const Result<net::Url>& url) {
  if (!url) return "error: " + url.error().message;
  return url->origin() + url->target;
}

TEST(AwsEndpointTest, ProviderThenServiceVariableThenGlobalVariableThenRegional) {
  static std::map<std::string, std::string> vars;
  const GetEnv fake = [](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  };
  vars.clear();
  EXPECT_EQ(urlOf(resolveAwsEndpoint(configOf(AwsService::kLambda, "f", "eu-west-1"), fake)),
            "https://lambda.eu-west-1.amazonaws.com:443/");
  EXPECT_EQ(urlOf(resolveAwsEndpoint(configOf(AwsService::kKinesis, "s", "cn-north-1"), fake)),
            "https://kinesis.cn-north-1.amazonaws.com.cn:443/");
  EXPECT_EQ(urlOf(resolveAwsEndpoint(configOf(AwsService::kFirehose, "s", "us-east-2"), fake)),
            "https://firehose.us-east-2.amazonaws.com:443/");
  EXPECT_EQ(urlOf(resolveAwsEndpoint(
                configOf(AwsService::kSqs, "https://sqs.us-east-1.amazonaws.com/1/q", "us-east-1"),
                fake)),
            "https://sqs.us-east-1.amazonaws.com:443/1/q");

  vars["AWS_ENDPOINT_URL"] = "http://127.0.0.1:4566";
  EXPECT_EQ(urlOf(resolveAwsEndpoint(configOf(AwsService::kLambda, "f", "eu-west-1"), fake)),
            "http://127.0.0.1:4566/");
  EXPECT_EQ(urlOf(resolveAwsEndpoint(
                configOf(AwsService::kSqs, "https://sqs.us-east-1.amazonaws.com/1/q", "us-east-1"),
                fake)),
            "http://127.0.0.1:4566/1/q");
  vars["AWS_ENDPOINT_URL_LAMBDA"] = "http://127.0.0.1:9001/base";
  EXPECT_EQ(urlOf(resolveAwsEndpoint(configOf(AwsService::kLambda, "f", "eu-west-1"), fake)),
            "http://127.0.0.1:9001/base/");
  EXPECT_EQ(urlOf(resolveAwsEndpoint(configOf(AwsService::kKinesis, "s", "eu-west-1"), fake)),
            "http://127.0.0.1:4566/");
  EXPECT_EQ(urlOf(resolveAwsEndpoint(
                configOf(AwsService::kLambda, "f", "eu-west-1", "http://127.0.0.1:7000"), fake)),
            "http://127.0.0.1:7000/");

  vars["AWS_ENDPOINT_URL_SQS"] = "not a url";
  EXPECT_EQ(urlOf(resolveAwsEndpoint(configOf(AwsService::kSqs, "https://h/1/q", "us-east-1"), fake)),
            "error: Environment variable AWS_ENDPOINT_URL_SQS must be an http or https URL.");
  vars.clear();
  EXPECT_EQ(urlOf(resolveAwsEndpoint(configOf(AwsService::kSqs, "my-queue", "us-east-1"), fake)),
            "error: Field \"provider.queueUrl\" must be an http or https URL.");
}

TEST_F(AwsInvokerTest, UnresolvableEndpointFailsEachCallWithTheReason) {
  json::object p{{"queueUrl", "just-a-name"}, {"region", "us-east-1"}};
  AwsProviderFactory factory(AwsService::kSqs, client_);
  ASSERT_TRUE(factory.validate(p));  // the original gateway accepted any queueUrl
  auto result = call(*factory.create(model::Function{"default", "f", "awssqs", p, std::nullopt}));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().message,
            "function call failed: Field \"provider.queueUrl\" must be an http or https URL.");
}

TEST(AwsHelpersTest, PartitionKeyAndBase64) {
  EXPECT_EQ(partitionKeyOf(R"({"eventID":"abc"})"), "abc");
  EXPECT_EQ(partitionKeyOf(R"({"specversion":"1.0","id":"xyz"})"), "xyz");
  EXPECT_EQ(partitionKeyOf("not json"), sigv4::sha256Hex("not json"));
  EXPECT_EQ(partitionKeyOf(R"({"eventID":""})"), sigv4::sha256Hex(R"({"eventID":""})"));
  const std::string longId(300, 'a');
  EXPECT_EQ(partitionKeyOf(R"({"eventID":")" + longId + "\"}"), std::string(256, 'a'));
  // 255 ASCII bytes then a 3-byte character: cut before it.
  const std::string utf8 = std::string(255, 'b') + "\xE1\x88\xB4";
  EXPECT_EQ(partitionKeyOf(R"({"eventID":")" + utf8 + "\"}"), std::string(255, 'b'));

  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("f"), "Zg==");
  EXPECT_EQ(base64Encode("fo"), "Zm8=");
  EXPECT_EQ(base64Encode("foo"), "Zm9v");
  EXPECT_EQ(base64Encode(std::string("\0\xff", 2)), "AP8=");
}

TEST(AwsErrorTest, ParsesHeaderJsonAndXmlForms) {
  net::ClientResponse r;
  r.addHeader("x-amzn-ErrorType", "ThrottlingException:http://x");
  r.body = R"({"message":"slow down"})";
  AwsErrorInfo info = parseAwsError(r);
  EXPECT_EQ(info.code, "ThrottlingException");
  EXPECT_EQ(info.message, "slow down");

  r.clearHeaders();
  r.body = R"({"__type":"com.amazonaws.kinesis.v20131202#ResourceNotFoundException","message":"Stream s not found"})";
  info = parseAwsError(r);
  EXPECT_EQ(info.code, "ResourceNotFoundException");
  EXPECT_EQ(info.message, "Stream s not found");

  r.body = "<ErrorResponse><Error><Code>ExpiredToken</Code><Message>a &amp; b &lt;c&gt;</Message></Error></ErrorResponse>";
  info = parseAwsError(r);
  EXPECT_EQ(info.code, "ExpiredToken");
  EXPECT_EQ(info.message, "a & b <c>");

  r.body = "plain";
  info = parseAwsError(r);
  EXPECT_EQ(info.code, "");
  EXPECT_EQ(info.message, "");

  EXPECT_NE(awsErrorHint(AwsService::kSqs, "AccessDenied").find("sqs:SendMessage"),
            std::string::npos);
  EXPECT_NE(awsErrorHint(AwsService::kKinesis, "ProvisionedThroughputExceededException")
                .find("throttled"),
            std::string::npos);
  EXPECT_NE(awsErrorHint(AwsService::kSqs, "ExpiredToken").find("expired"), std::string::npos);
  EXPECT_EQ(awsErrorHint(AwsService::kLambda, "SomethingElse"), "");
}

}  // namespace
}  // namespace eg::providers
