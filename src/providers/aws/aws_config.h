#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <boost/json.hpp>

#include "net/http_client.h"
#include "providers/aws/credentials.h"
#include "providers/provider.h"

namespace eg::providers {

// The AWS provider types and the field that names each one's target.
//
// | type          | target field (required) | also required | optional                                                                 |
// |---------------|-------------------------|---------------|--------------------------------------------------------------------------|
// | `awslambda`   | `arn`                   | `region`      | `awsAccessKeyId`, `awsSecretAccessKey`, `awsSessionToken`, `endpoint`,  |
// |               |                         |               | `connectTimeout` (ms, 5000), `timeout` (ms, 30000)                       |
// | `awskinesis`  | `streamName`            | `region`      | as above                                                                 |
// | `awsfirehose` | `deliveryStreamName`    | `region`      | as above                                                                 |
// | `awssqs`      | `queueUrl`              | `region`      | as above                                                                 |
//
// The target is any non-empty string (the original gateway accepted `arn::::`); the
// service checks it. `region` is lower-case letters, digits and '-', since it becomes
// part of a host name. The key id and secret come together; a session token needs both.
// Without credentials the standard AWS chain applies at call time (AwsCredentialChain).
// `endpoint` is an http(s) base URL replacing the regional endpoint (see
// resolveAwsEndpoint).
//
// Provider objects are stored as given: unknown fields are kept and ignored.
enum class AwsService { kLambda, kKinesis, kFirehose, kSqs };

const char* awsTypeName(AwsService service);    // "awslambda", ...
const char* awsTargetField(AwsService service);  // "arn", "streamName", ...

struct AwsProviderConfig {
  AwsService service = AwsService::kLambda;
  std::string target;  // the value of awsTargetField(service)
  std::string region;
  std::optional<AwsCredentials> credentials;  // none: environment chain
  std::optional<net::Url> endpoint;
  std::chrono::milliseconds connectTimeout{5'000};
  std::chrono::milliseconds timeout{30'000};  // from request sent to response read
};

// kInvalid naming the field when `provider` is not valid for `service`.
Result<AwsProviderConfig> parseAwsProvider(AwsService service, const boost::json::object& provider);

// The name the service signs with and the suffix of its endpoint variable:
// lambda/LAMBDA, kinesis/KINESIS, firehose/FIREHOSE, sqs/SQS.
const char* awsSigningName(AwsService service);
const char* awsEndpointEnvSuffix(AwsService service);

// Where the requests of `config` go, decided once when the invoker is built:
// `endpoint` from the provider, else $AWS_ENDPOINT_URL_<SERVICE>, else
// $AWS_ENDPOINT_URL, else https://<service>.<region>.amazonaws.com (".com.cn" for
// cn- regions). For awssqs the request goes to the queue URL: unchanged without an
// override, with the override's scheme, host and port (and path prefix) otherwise.
// The signature is for the service and region of `config` whatever the endpoint.
// kInvalid when the endpoint variable or the queue URL is not an http(s) URL.
// `getenv` is injectable for tests.
using GetEnv = const char* (*)(const char*);
Result<net::Url> resolveAwsEndpoint(const AwsProviderConfig& config, GetEnv getenv = nullptr);

// Validates the AWS types and builds their invokers (awslambda: LambdaInvoker;
// awskinesis and awsfirehose: StreamInvoker; awssqs: SqsInvoker), all over `client`,
// which must outlive them. A provider that no longer validates, or whose endpoint
// cannot be resolved, yields an Invoker whose calls fail with the reason.
class AwsProviderFactory final : public ProviderFactory {
 public:
  AwsProviderFactory(AwsService service, net::HttpClient& client)
      : service_(service), client_(client) {}
  Status validate(const boost::json::object& provider) const override;
  bool isSecretField(std::string_view field) const override;
  std::unique_ptr<Invoker> create(const model::Function& function) const override;

 private:
  AwsService service_;
  net::HttpClient& client_;
};

}  // namespace eg::providers
