#include "model/keys.h"

namespace eg::model {
namespace {

std::string_view collectionName(ResourceKind kind) {
  switch (kind) {
    case ResourceKind::kFunction: return "functions";
    case ResourceKind::kEventType: return "eventtypes";
    case ResourceKind::kSubscription: return "subscriptions";
    case ResourceKind::kCors: return "cors";
  }
  return "";
}

std::optional<ResourceKind> kindOfCollection(std::string_view name) {
  if (name == "functions") return ResourceKind::kFunction;
  if (name == "eventtypes") return ResourceKind::kEventType;
  if (name == "subscriptions") return ResourceKind::kSubscription;
  if (name == "cors") return ResourceKind::kCors;
  return std::nullopt;
}

}  // namespace

std::string collectionPrefix(ResourceKind kind, std::string_view space) {
  std::string key;
  const auto collection = collectionName(kind);
  key.reserve(kSpacesPrefix.size() + space.size() + collection.size() + 2);
  key.append(kSpacesPrefix).append(space).append("/").append(collection).append("/");
  return key;
}

std::string resourceKey(ResourceKind kind, std::string_view space, std::string_view id) {
  return collectionPrefix(kind, space).append(id);
}

std::optional<ParsedKey> parseKey(std::string_view key) {
  if (!key.starts_with(kSpacesPrefix)) return std::nullopt;
  key.remove_prefix(kSpacesPrefix.size());
  const auto spaceEnd = key.find('/');
  if (spaceEnd == std::string_view::npos || spaceEnd == 0) return std::nullopt;
  const auto space = key.substr(0, spaceEnd);
  key.remove_prefix(spaceEnd + 1);
  const auto collectionEnd = key.find('/');
  if (collectionEnd == std::string_view::npos) return std::nullopt;
  const auto kind = kindOfCollection(key.substr(0, collectionEnd));
  const auto id = key.substr(collectionEnd + 1);
  if (!kind || id.empty() || id.find('/') != std::string_view::npos) return std::nullopt;
  return ParsedKey{*kind, std::string(space), std::string(id)};
}

}  // namespace eg::model
