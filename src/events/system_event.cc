#include "events/system_event.h"

#include <string>
#include <utility>

#include "events/gateway_event.h"

namespace eg::events {

namespace {
constexpr std::string_view kGen2Prefix = "eventgateway.";
constexpr std::string_view kGen1Prefix = "gateway.";
}  // namespace

bool isSystemEventType(std::string_view eventType) {
  return eventType.starts_with(kGen2Prefix) || eventType.starts_with(kGen1Prefix);
}

CloudEvent systemEvent(std::string_view type, boost::json::object data) {
  CloudEvent event = gatewayEvent(std::string(type));
  event.contentType = "application/json";
  event.data = std::move(data);
  return event;
}

std::string_view gen1SystemName(std::string_view gen2Type) {
  if (!gen2Type.starts_with(kGen2Prefix)) return gen2Type;
  // "eventgateway.x" ends with "gateway.x".
  return gen2Type.substr(kGen2Prefix.size() - kGen1Prefix.size());
}

}  // namespace eg::events
