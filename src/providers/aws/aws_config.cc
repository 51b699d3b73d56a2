#include "providers/aws/aws_config.h"

#include <cstdlib>

#include "model/limits.h"
#include "providers/aws/aws_invokers.h"
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

  auto target = fields::requiredString(
      provider, awsTargetField(service),
      service == AwsService::kSqs ? model::kMaxUrlLength : model::kMaxProviderFieldLength);
  if (!target) return std::move(target).error();
  config.target = std::move(target).value();

  auto region = fields::requiredString(provider, "region", model::kMaxProviderFieldLength);
  if (!region) return std::move(region).error();
  if (!isRegion(*region)) {
    return Error::invalid(
        "Field \"provider.region\" must be an AWS region name such as \"us-east-1\".");
  }
  config.region = std::move(region).value();

  auto keyId = fields::optionalString(provider, "awsAccessKeyId", model::kMaxProviderFieldLength);
  if (!keyId) return std::move(keyId).error();
  auto secret =
      fields::optionalString(provider, "awsSecretAccessKey", model::kMaxProviderFieldLength);
  if (!secret) return std::move(secret).error();
  auto token = fields::optionalString(provider, "awsSessionToken", model::kMaxTokenLength);
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

  auto connectTimeout =
      fields::optionalMilliseconds(provider, "connectTimeout", config.connectTimeout);
  if (!connectTimeout) return std::move(connectTimeout).error();
  config.connectTimeout = *connectTimeout;
  auto timeout = fields::optionalMilliseconds(provider, "timeout", config.timeout);
  if (!timeout) return std::move(timeout).error();
  config.timeout = *timeout;
  return config;
}

const char* awsSigningName(AwsService service) {
  switch (service) {
    case AwsService::kLambda: return "lambda";
    case AwsService::kKinesis: return "kinesis";
    case AwsService::kFirehose: return "firehose";
    case AwsService::kSqs: return "sqs";
  }
  return "lambda";
}

const char* awsEndpointEnvSuffix(AwsService service) {
  switch (service) {
    case AwsService::kLambda: return "LAMBDA";
    case AwsService::kKinesis: return "KINESIS";
    case AwsService::kFirehose: return "FIREHOSE";
    case AwsService::kSqs: return "SQS";
  }
  return "LAMBDA";
}

namespace {

const char* systemGetenv(const char* name) { return std::getenv(name); }

// `prefix` (an endpoint's path, maybe "/") followed by `path` (starting with '/').
std::string joinPath(std::string_view prefix, std::string_view path) {
  prefix = prefix.substr(0, prefix.find('?'));
  while (!prefix.empty() && prefix.back() == '/') prefix.remove_suffix(1);
  return std::string(prefix) + std::string(path);
}

}  // namespace

Result<net::Url> resolveAwsEndpoint(const AwsProviderConfig& config, GetEnv getenv) {
  if (getenv == nullptr) getenv = &systemGetenv;
  std::optional<net::Url> base = config.endpoint;
  if (!base) {
    const std::string specific = std::string("AWS_ENDPOINT_URL_") + awsEndpointEnvSuffix(config.service);
    for (const std::string& name : {specific, std::string("AWS_ENDPOINT_URL")}) {
      const char* value = getenv(name.c_str());
      if (value == nullptr || *value == '\0') continue;
      auto url = net::Url::parse(value);
      if (!url) {
        return Error::invalid("Environment variable " + name + " must be an http or https URL.");
      }
      base = std::move(url).value();
      break;
    }
  }
  if (config.service == AwsService::kSqs) {
    auto queue = net::Url::parse(config.target);
    if (!queue) return Error::invalid("Field \"provider.queueUrl\" must be an http or https URL.");
    if (!base) return std::move(queue).value();
    net::Url url = *base;
    url.target = joinPath(base->target, queue->target);
    return url;
  }
  if (base) {
    base->target = joinPath(base->target, "/");
    return *std::move(base);
  }
  std::string regional = std::string("https://") + awsSigningName(config.service) + "." +
                         config.region + ".amazonaws.com";
  if (config.region.rfind("cn-", 0) == 0) regional += ".cn";
  return net::Url::parse(regional);
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
  auto config = parseAwsProvider(service_, function.provider);
  if (!config) {
    return std::make_unique<FailingInvoker>(
        Error::unavailable("function call failed: invalid provider: " + config.error().message));
  }
  auto endpoint = resolveAwsEndpoint(*config);
  if (!endpoint) {
    return std::make_unique<FailingInvoker>(
        Error::unavailable("function call failed: " + endpoint.error().message));
  }
  return makeAwsInvoker(client_, std::move(config).value(), std::move(endpoint).value());
}

}  // namespace eg::providers
