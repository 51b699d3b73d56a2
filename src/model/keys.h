#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eg::model {

// Store layout, relative to the store's key prefix:
//   spaces/<space>/functions/<functionId>
//   spaces/<space>/eventtypes/<name>
//   spaces/<space>/subscriptions/<subscriptionId>
//   spaces/<space>/cors/<corsId>
//   routes            (sentinel: bumped by every sync route change; see config/service)
// Names, IDs and spaces never hold '/', so a key splits unambiguously.
enum class ResourceKind { kFunction, kEventType, kSubscription, kCors };

struct ParsedKey {
  ResourceKind kind;
  std::string space;
  std::string id;
};

inline constexpr std::string_view kSpacesPrefix = "spaces/";
inline constexpr std::string_view kRoutesSentinelKey = "routes";

std::string resourceKey(ResourceKind kind, std::string_view space, std::string_view id);
// "spaces/<space>/<collection>/": every resource of that kind in the space.
std::string collectionPrefix(ResourceKind kind, std::string_view space);
// nullopt for keys outside the layout (the sentinel, foreign keys).
std::optional<ParsedKey> parseKey(std::string_view key);

}  // namespace eg::model
