#include "providers/builtin.h"

#include "providers/aws/aws_config.h"
#include "providers/http/http_provider.h"
#include "providers/weighted/weighted_provider.h"

namespace eg::providers {

void registerBuiltinProviders(ProviderRegistry& registry, net::HttpClient& client) {
  registry.add("http", std::make_unique<HttpProviderFactory>(client));
  for (const AwsService service :
       {AwsService::kLambda, AwsService::kKinesis, AwsService::kFirehose, AwsService::kSqs}) {
    registry.add(awsTypeName(service), std::make_unique<AwsProviderFactory>(service, client));
  }
  registry.add(std::string(kWeightedType), std::make_unique<WeightedProviderFactory>());
}

}  // namespace eg::providers
