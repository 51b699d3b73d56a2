#include "providers/redact.h"

namespace eg::providers {

namespace json = boost::json;

namespace {

json::value redactValue(const json::value& value) {
  if (!value.is_object()) return json::value(kRedacted);
  json::object out;
  for (const auto& member : value.get_object()) out[member.key()] = kRedacted;
  return out;
}

}  // namespace

json::object redactedProvider(const ProviderRegistry& registry, std::string_view type,
                              const json::object& provider) {
  const ProviderFactory* factory = registry.find(type);
  json::object out;
  for (const auto& member : provider) {
    const std::string_view field(member.key().data(), member.key().size());
    const bool secret = factory == nullptr || factory->isSecretField(field);
    out[member.key()] = secret ? redactValue(member.value()) : member.value();
  }
  return out;
}

}  // namespace eg::providers
