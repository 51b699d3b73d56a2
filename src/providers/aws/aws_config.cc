#include "providers/aws/aws_config.h"

#include "providers/failing_invoker.h"
#include "providers/fields.h"

namespace eg::providers {

namespace json = boost::json;

namespace {

bool isRegion(std::string_view region) {
  for (const char c : region) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return !region.empty();
}

}  // namespace

const char* awsTypeName(AwsService service) {
  switch (service) {
    case AwsService::kLambda: return "awslambda";
    case AwsService::kKinesis: return "awskinesis";
    case AwsService::kFirehose: return "awsfirehose";
    case AwsService::kSqs: return "awssqs";
  }
  return "aws";
}

const char* awsTargetField(AwsService service) {
  switch (service) {
    case AwsService::kLambda: return "arn";
    case AwsService::kKinesis: return "streamName";
    case AwsService::kFirehose: return "deliveryStreamName";
    case AwsService::kSqs: return "queueUrl";
  }
  return "arn";
}

Result<AwsProviderConfig> parseAwsProvider(AwsService service, const json::object& provider) {
  AwsProviderConfig config;
  config.service = service;

  auto target = fields::requiredString(provider, awsTargetField(service));
  if (!target) return std::move(target).error();
  config.target = std::move(target).value();

  auto region = fields::requiredString(provider, "region");
  if (!region) return std::move(region).error();
  if (!isRegion(*region)) {
    return Error::invalid(
        "Field \"provider.region\" must be an AWS region name such as \"us-east-1\".");
  }
  config.region = std::move(region).value();

  auto keyId = fields::optionalString(provider, "awsAccessKeyId");
  if (!keyId) return std::move(keyId).error();
  auto secret = fields::optionalString(provider, "awsSecretAccessKey");
  if (!secret) return std::move(secret).error();
  auto token = fields::optionalString(provider, "awsSessionToken");
  if (!token) return std::move(token).error();
  if (keyId->has_value() && !secret->has_value()) {
    return Error::invalid(
        "Field \"provider.awsSecretAccessKey\" is required when \"awsAccessKeyId\" is given.");
  }
  if (secret->has_value() && !keyId->has_value()) {
    return Error::invalid(
        "Field \"provider.awsAccessKeyId\" is required when \"awsSecretAccessKey\" is given.");
  }
  if (token->has_value() && !keyId->has_value()) {
    return Error::invalid(
        "Fields \"provider.awsAccessKeyId\" and \"provider.awsSecretAccessKey\" are required "
        "when \"awsSessionToken\" is given.");
  }
  if (keyId->has_value()) {
    config.credentials = AwsCredentials{std::move(**keyId), std::move(**secret),
                                        token->has_value() ? std::move(**token) : std::string()};
  }

  auto endpoint = fields::optionalUrl(provider, "endpoint");
  if (!endpoint) return std::move(endpoint).error();
  config.endpoint = std::move(endpoint).value();
  return config;
}

Status AwsProviderFactory::validate(const json::object& provider) const {
  auto config = parseAwsProvider(service_, provider);
  if (!config) return std::move(config).error();
  return {};
}

bool AwsProviderFactory::isSecretField(std::string_view field) const {
  return field == "awsAccessKeyId" || field == "awsSecretAccessKey" || field == "awsSessionToken";
}

std::unique_ptr<Invoker> AwsProviderFactory::create(const model::Function& function) const {
  return std::make_unique<FailingInvoker>(Error::unavailable(
      std::string("provider \"") + awsTypeName(service_) +
      "\" calls are not available in this build"));
}

}  // namespace eg::providers
