#include "events/event_attribute.h"

#include <charconv>
#include <utility>

#include <boost/json.hpp>

#include "common/json.h"

namespace eg::events {

namespace json = boost::json;

namespace {

std::optional<std::string> textOf(const json::value* v) {
  if (v == nullptr) return std::nullopt;
  std::string scratch;
  const auto text = scalarText(*v, scratch);
  if (!text) return std::nullopt;
  return std::string(*text);
}

// The 0.1 member a 1.0 context attribute is held in, or "" for an extension.
std::string_view v01Member(std::string_view name) {
  static constexpr std::pair<std::string_view, std::string_view> kNames[] = {
      {"id", "eventID"},          {"type", "eventType"},
      {"time", "eventTime"},      {"dataschema", "schemaURL"},
      {"source", "source"},       {"datacontenttype", "contentType"},
      {"specversion", "cloudEventsVersion"}, {"eventtypeversion", "eventTypeVersion"},
  };
  for (const auto& [v10, v01] : kNames) {
    if (name == v10) return v01;
  }
  return {};
}

}  // namespace

std::optional<std::string> attributeOf(std::string_view eventJson, std::string_view name) {
  boost::system::error_code ec;
  const json::value parsed = parseValue(eventJson, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const json::object& event = parsed.get_object();
  if (event.contains("specversion")) {
    // 1.0: every attribute is a member of its own; data is not an attribute.
    if (name == "data" || name == "data_base64") return std::nullopt;
    return textOf(event.if_contains(name));
  }
  if (const std::string_view member = v01Member(name); !member.empty()) {
    if (const json::value* v = event.if_contains(member)) return textOf(v);
    if (name != "eventtypeversion") return std::nullopt;
  }
  const json::value* extensions = event.if_contains("extensions");
  if (extensions == nullptr || !extensions->is_object()) return std::nullopt;
  return textOf(extensions->get_object().if_contains(name));
}

std::optional<std::string_view> scalarText(const json::value& v, std::string& scratch) {
  if (v.is_string()) return std::string_view(v.get_string());
  if (v.is_double()) {
    char buffer[32];
    const auto end = std::to_chars(buffer, buffer + sizeof buffer, v.get_double()).ptr;
    scratch.assign(buffer, end);
    return std::string_view(scratch);
  }
  if (v.is_number() || v.is_bool()) {
    scratch = json::serialize(v);
    return std::string_view(scratch);
  }
  return std::nullopt;
}

}  // namespace eg::events
