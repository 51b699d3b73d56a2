#include "events/cloud_event.h"

#include <algorithm>
#include <type_traits>
#include <utility>

#include <boost/url/parse.hpp>

#include "common/json.h"
#include "events/cloud_event_v1.h"
#include "events/gateway_event.h"

namespace eg::events {

namespace json = boost::json;

namespace {

constexpr std::string_view kInvalidPrefix = "CloudEvent doesn't validate: ";

Error attributeError(std::string_view name, std::string_view problem) {
  std::string message;
  message.reserve(kInvalidPrefix.size() + name.size() + problem.size() + 16);
  message.append(kInvalidPrefix).append("attribute \"").append(name).append("\" ").append(problem);
  return Error::invalid(std::move(message));
}

bool isDigits(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  return true;
}

int number(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

int daysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (month == 2 && (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0))) return 29;
  return kDays[month - 1];
}

// Reads an optional string attribute; null and absent are the same.
Status optionalString(const json::object& o, std::string_view name,
                      std::optional<std::string>& out) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return {};
  if (!it->value().is_string()) return attributeError(name, "must be a string.");
  const json::string& s = it->value().get_string();
  out.emplace(s.data(), s.size());
  return {};
}

Status requiredString(const json::object& o, std::string_view name, std::string& out) {
  auto it = o.find(name);
  if (it == o.end() || it->value().is_null()) return attributeError(name, "is required.");
  if (!it->value().is_string()) return attributeError(name, "must be a string.");
  const json::string& s = it->value().get_string();
  if (s.empty()) return attributeError(name, "is required.");
  out.assign(s.data(), s.size());
  return {};
}

// The attribute checks shared by fromJson; `Object` is `json::object` (moving data and
// extensions out) or `const json::object` (copying them).
template <class Object>
Result<CloudEvent> parseObject(Object& o) {
  CloudEvent event;
  if (auto s = requiredString(o, "eventType", event.eventType); !s) return std::move(s).error();
  if (auto s = optionalString(o, "eventTypeVersion", event.eventTypeVersion); !s) {
    return std::move(s).error();
  }
  if (auto s = requiredString(o, "cloudEventsVersion", event.cloudEventsVersion); !s) {
    return std::move(s).error();
  }
  if (auto s = requiredString(o, "source", event.source); !s) return std::move(s).error();
  if (!isUriReference(event.source)) return attributeError("source", "must be a URI reference.");
  if (auto s = requiredString(o, "eventID", event.eventID); !s) return std::move(s).error();
  if (auto s = optionalString(o, "eventTime", event.eventTime); !s) return std::move(s).error();
  if (event.eventTime && !isRfc3339(*event.eventTime)) {
    return attributeError("eventTime", "must be an RFC 3339 time.");
  }
  if (auto s = optionalString(o, "schemaURL", event.schemaURL); !s) return std::move(s).error();
  if (auto s = optionalString(o, "contentType", event.contentType); !s) {
    return std::move(s).error();
  }
  if (auto it = o.find("extensions"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return attributeError("extensions", "must be an object.");
    if constexpr (std::is_const_v<Object>) {
      event.extensions = it->value().get_object();
    } else {
      event.extensions = std::move(it->value().get_object());
    }
  }
  if (auto it = o.find("data"); it != o.end()) {
    if constexpr (std::is_const_v<Object>) {
      event.data = it->value();
    } else {
      event.data = std::move(it->value());
    }
  }
  return event;
}

json::object markerObject() {
  json::object marker;
  marker.reserve(2);
  marker.emplace("transformed", "true");
  marker.emplace("transformation-version", kTransformationVersion);
  return marker;
}

Error notAnObject() {
  return Error::invalid(std::string(kInvalidPrefix) + "must be a JSON object.");
}

}  // namespace

bool isRfc3339(std::string_view t) {
  // 2006-01-02T15:04:05[.999]Z|+07:00
  if (t.size() < 20) return false;
  if (!isDigits(t, 0, 4) || t[4] != '-' || !isDigits(t, 5, 2) || t[7] != '-' ||
      !isDigits(t, 8, 2) || (t[10] != 'T' && t[10] != 't') || !isDigits(t, 11, 2) ||
      t[13] != ':' || !isDigits(t, 14, 2) || t[16] != ':' || !isDigits(t, 17, 2)) {
    return false;
  }
  const int year = number(t, 0, 4);
  const int month = number(t, 5, 2);
  const int day = number(t, 8, 2);
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return false;
  if (number(t, 11, 2) > 23 || number(t, 14, 2) > 59 || number(t, 17, 2) > 60) return false;

  std::size_t pos = 19;
  if (t[pos] == '.') {
    const std::size_t start = ++pos;
    while (pos < t.size() && t[pos] >= '0' && t[pos] <= '9') ++pos;
    if (pos == start) return false;
  }
  if (pos >= t.size()) return false;
  if (t[pos] == 'Z' || t[pos] == 'z') return pos + 1 == t.size();
  if (t[pos] != '+' && t[pos] != '-') return false;
  if (pos + 6 != t.size() || !isDigits(t, pos + 1, 2) || t[pos + 3] != ':' ||
      !isDigits(t, pos + 4, 2)) {
    return false;
  }
  return number(t, pos + 1, 2) <= 23 && number(t, pos + 4, 2) <= 59;
}

bool isUriReference(std::string_view text) {
  return !text.empty() && boost::urls::parse_uri_reference(text).has_value();
}

json::object toJson(const CloudEvent& event) {
  if (event.specVersion == SpecVersion::k10) return json::parse(serializeV1(event)).as_object();
  json::object o;
  o.reserve(10);
  o.emplace("eventType", event.eventType);
  if (event.eventTypeVersion) o.emplace("eventTypeVersion", *event.eventTypeVersion);
  o.emplace("cloudEventsVersion", event.cloudEventsVersion);
  o.emplace("source", event.source);
  o.emplace("eventID", event.eventID);
  if (event.eventTime) o.emplace("eventTime", *event.eventTime);
  if (event.schemaURL) o.emplace("schemaURL", *event.schemaURL);
  if (event.contentType) o.emplace("contentType", *event.contentType);
  if (event.marked || !event.extensions.empty()) o.emplace("extensions", allExtensions(event));
  o.emplace("data", event.data);
  return o;
}

std::string serialize(const CloudEvent& event) {
  if (event.specVersion == SpecVersion::k10) return serializeV1(event);
  std::string out;
  out.reserve(320 + event.eventType.size() + event.source.size());
  JsonWriter w(out);
  w.raw("{\"eventType\":").string(event.eventType);
  if (event.eventTypeVersion) w.raw(",\"eventTypeVersion\":").string(*event.eventTypeVersion);
  w.raw(",\"cloudEventsVersion\":").string(event.cloudEventsVersion);
  w.raw(",\"source\":").string(event.source);
  w.raw(",\"eventID\":").string(event.eventID);
  if (event.eventTime) w.raw(",\"eventTime\":").string(*event.eventTime);
  if (event.schemaURL) w.raw(",\"schemaURL\":").string(*event.schemaURL);
  if (event.contentType) w.raw(",\"contentType\":").string(*event.contentType);
  if (event.marked && event.extensions.empty()) {
    // Most events carry exactly the marker of gateway-built events: its text is known.
    w.raw(",\"extensions\":").raw(kGatewayExtensionsJson);
  } else if (event.marked) {
    w.raw(",\"extensions\":").object(allExtensions(event));
  } else if (!event.extensions.empty()) {
    w.raw(",\"extensions\":").object(event.extensions);
  }
  w.raw(",\"data\":").value(event.data);
  w.raw('}');
  return out;
}

json::object allExtensions(const CloudEvent& event) {
  if (!event.marked) return event.extensions;
  json::object all;
  all.reserve(event.extensions.size() + 1);
  all.emplace("eventgateway", markerObject());
  for (const auto& [key, value] : event.extensions) all[key] = value;
  return all;
}

void unmark(CloudEvent& event) {
  if (!event.marked) return;
  event.marked = false;
  if (event.extensions.contains("eventgateway")) return;
  json::object all;
  all.reserve(event.extensions.size() + 1);
  all.emplace("eventgateway", markerObject());
  for (auto& [key, value] : event.extensions) all.emplace(key, std::move(value));
  event.extensions = std::move(all);
}

Result<CloudEvent> fromJson(const json::value& value) {
  if (!value.is_object()) return notAnObject();
  return parseObject(value.get_object());
}

Result<CloudEvent> fromJson(json::value&& value) {
  if (!value.is_object()) return notAnObject();
  return parseObject(value.get_object());
}

Status validate(const CloudEvent& event) {
  if (event.eventType.empty()) return attributeError("eventType", "is required.");
  if (event.cloudEventsVersion.empty()) return attributeError("cloudEventsVersion", "is required.");
  if (event.source.empty()) return attributeError("source", "is required.");
  if (!isUriReference(event.source)) return attributeError("source", "must be a URI reference.");
  if (event.eventID.empty()) return attributeError("eventID", "is required.");
  if (event.eventTime && !isRfc3339(*event.eventTime)) {
    return attributeError("eventTime", "must be an RFC 3339 time.");
  }
  return {};
}

}  // namespace eg::events
