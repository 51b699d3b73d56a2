#include "dispatch/authorizer.h"

#include <string>
#include <utility>

#include "common/json.h"
#include "events/cloud_event_v1.h"
#include "events/gateway_event.h"

namespace eg::dispatch {

namespace json = boost::json;

namespace {

Error unparsable() { return Error::invalid("authorizer result malformed"); }

}  // namespace

std::string authorizerPayload(std::string_view eventJson, std::string_view requestJson) {
  std::string out;
  out.reserve(eventJson.size() + requestJson.size() + 24);
  out += "{\"event\":";
  out += eventJson;
  out += ",\"request\":";
  out += requestJson;
  out += '}';
  return out;
}

Result<json::object> parseAuthorizerResult(std::string_view result) {
  boost::system::error_code ec;
  json::value value = parseValue(result, ec);
  if (ec || !value.is_object()) return unparsable();
  auto& object = value.get_object();

  if (const auto* error = object.if_contains("error"); error && !error->is_null()) {
    std::string message = "authorization failed";
    if (error->is_object()) {
      if (const auto* m = error->get_object().if_contains("message"); m && m->is_string()) {
        if (!m->get_string().empty()) message = std::string(m->get_string());
      }
    }
    return Error::invalid(std::move(message));
  }

  auto* authorization = object.if_contains("authorization");
  if (!authorization || !authorization->is_object()) {
    return Error::invalid("authorizer returned no authorization");
  }
  auto& in = authorization->get_object();

  json::object out;
  const auto* principal = in.if_contains("principalId");
  if (principal && !principal->is_null() && !principal->is_string()) return unparsable();
  out["principalId"] = principal && principal->is_string() ? principal->get_string()
                                                           : json::string();
  if (auto* context = in.if_contains("context"); context && !context->is_null()) {
    if (!context->is_object()) return unparsable();
    for (const auto& [k, v] : context->get_object()) {
      if (!v.is_string()) return unparsable();
    }
    out["context"] = std::move(*context);
  }
  return out;
}

void attachAuthorization(events::CloudEvent& event, json::object authorization) {
  if (event.specVersion == events::SpecVersion::k10) {
    // 1.0 extension values are strings, numbers or booleans: the object as JSON text.
    event.extensions[kAuthorizationExtension] = json::serialize(authorization);
    return;
  }
  events::unmark(event);
  auto& slot = event.extensions["eventgateway"];
  if (!slot.is_object()) slot = json::object();
  slot.get_object()["authorization"] = std::move(authorization);
}

Result<std::string> authorizedPayload(std::string_view eventJson, json::object authorization,
                                      bool gatewayBuilt) {
  if (gatewayBuilt) {
    // Extensions come before data, and a string cannot hold this text unescaped: the
    // first match is the event's own marker.
    static const std::string kMarker =
        R"(,"extensions":)" + std::string(events::kGatewayExtensionsJson) + R"(,"data":)";
    if (const std::size_t at = eventJson.find(kMarker); at != std::string_view::npos) {
      // Before the two closing braces of {"eventgateway":{...}}.
      const std::size_t insert = at + kMarker.size() - std::string_view(R"(}},"data":)").size();
      std::string out;
      out.reserve(eventJson.size() + 64);
      out.append(eventJson.substr(0, insert));
      out += R"(,"authorization":)";
      out += json::serialize(authorization);
      out.append(eventJson.substr(insert));
      return out;
    }
  }
  boost::system::error_code ec;
  json::value value = parseValue(eventJson, ec);
  if (ec) return Error::internal("event to authorize is not JSON: " + ec.message());
  auto event = events::fromStructuredJson(std::move(value));
  if (!event) return Error::internal("event to authorize: " + event.error().message);
  attachAuthorization(*event, std::move(authorization));
  return events::serialize(*event);
}

}  // namespace eg::dispatch
