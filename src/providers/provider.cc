#include "providers/provider.h"

namespace eg::providers {

void ProviderRegistry::add(std::string type, std::unique_ptr<ProviderFactory> factory) {
  factories_[std::move(type)] = std::move(factory);
}

const ProviderFactory* ProviderRegistry::find(std::string_view type) const {
  const auto it = factories_.find(type);
  return it == factories_.end() ? nullptr : it->second.get();
}

}  // namespace eg::providers
