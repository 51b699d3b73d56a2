#pragma once

#include "net/http_client.h"
#include "providers/provider.h"

namespace eg::providers {

// Registers every provider type the gateway knows ("http", "awslambda", "awskinesis",
// "awsfirehose", "awssqs", "weighted"). `client` must outlive the registry's invokers.
void registerBuiltinProviders(ProviderRegistry& registry, net::HttpClient& client);

}  // namespace eg::providers
