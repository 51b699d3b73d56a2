#pragma once

#include <optional>
#include <string>

#include <boost/json.hpp>

#include "net/http_client.h"
#include "providers/provider.h"

namespace eg::providers {

// The AWS provider types and the field that names each one's target.
//
// | type          | target field (required) | also required | optional                                                                 |
// |---------------|-------------------------|---------------|--------------------------------------------------------------------------|
// | `awslambda`   | `arn`                   | `region`      | `awsAccessKeyId`, `awsSecretAccessKey`, `awsSessionToken`, `endpoint`   |
// | `awskinesis`  | `streamName`            | `region`      | as above                                                                 |
// | `awsfirehose` | `deliveryStreamName`    | `region`      | as above                                                                 |
// | `awssqs`      | `queueUrl`              | `region`      | as above                                                                 |
//
// The target is any non-empty string (the original gateway accepted `arn::::`); the
// service checks it. `region` is lower-case letters, digits and '-', since it becomes
// part of a host name. The key id and secret come together; a session token needs both.
// Without credentials the standard AWS environment chain applies. `endpoint` is an
// http(s) base URL replacing the regional endpoint.
//
// Provider objects are stored as given: unknown fields are kept and ignored.
enum class AwsService { kLambda, kKinesis, kFirehose, kSqs };

const char* awsTypeName(AwsService service);    // "awslambda", ...
const char* awsTargetField(AwsService service);  // "arn", "streamName", ...

struct AwsCredentials {
  std::string accessKeyId;
  std::string secretAccessKey;
  std::string sessionToken;  // empty when none
};

struct AwsProviderConfig {
  AwsService service = AwsService::kLambda;
  std::string target;  // the value of awsTargetField(service)
  std::string region;
  std::optional<AwsCredentials> credentials;  // none: environment chain
  std::optional<net::Url> endpoint;
};

// kInvalid naming the field when `provider` is not valid for `service`.
Result<AwsProviderConfig> parseAwsProvider(AwsService service, const boost::json::object& provider);

// Validates the AWS types. Calls are not made by this build: create() returns an
// Invoker whose calls fail with kUnavailable
// `provider "awslambda" calls are not available in this build`.
class AwsProviderFactory final : public ProviderFactory {
 public:
  explicit AwsProviderFactory(AwsService service) : service_(service) {}
  Status validate(const boost::json::object& provider) const override;
  bool isSecretField(std::string_view field) const override;
  std::unique_ptr<Invoker> create(const model::Function& function) const override;

 private:
  AwsService service_;
};

}  // namespace eg::providers
