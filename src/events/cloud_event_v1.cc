#include "events/cloud_event_v1.h"

#include <algorithm>
#include <array>
#include <utility>

#include <boost/url/parse.hpp>

#include "common/base64.h"
#include "common/http_syntax.h"
#include "common/json.h"
#include "events/request_to_event.h"

namespace eg::events {

namespace json = boost::json;

namespace {

constexpr std::string_view kInvalidPrefix = "CloudEvent doesn't validate: ";

// The 1.0 attributes that are not extensions, and the two members of the JSON format
// that carry the data.
constexpr std::array<std::string_view, 10> kReserved = {
    "specversion", "id",   "source",        "type", "datacontenttype",
    "dataschema",  "subject", "time", "data", "data_base64"};

bool isReserved(std::string_view name) {
  return std::find(kReserved.begin(), kReserved.end(), name) != kReserved.end();
}

Error attributeError(std::string_view name, std::string_view problem) {
  std::string message(kInvalidPrefix);
  message.append("attribute \"").append(name).append("\" ").append(problem);
  return Error::invalid(std::move(message));
}

// `type/subtype` with optional parameters: what RFC 2046 asks of datacontenttype.
bool isMediaType(std::string_view text) {
  const std::size_t semi = text.find(';');
  std::string_view type = text.substr(0, semi);
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  const std::size_t slash = type.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == type.size()) return false;
  for (std::size_t i = 0; i < type.size(); ++i) {
    if (i != slash && !isHttpTokenChar(static_cast<unsigned char>(type[i]))) return false;
  }
  return true;
}

bool isAbsoluteUri(std::string_view text) {
  return !text.empty() && boost::urls::parse_uri(text).has_value();
}

// Reads a string attribute: absent (or null) leaves `out` alone and returns false.
Result<bool> stringAttribute(const json::object& o, std::string_view name, std::string& out) {
  const json::value* v = o.if_contains(name);
  if (v == nullptr || v->is_null()) return false;
  if (!v->is_string()) return attributeError(name, "must be a string.");
  out.assign(v->get_string().data(), v->get_string().size());
  return true;
}

Status requiredAttribute(const json::object& o, std::string_view name, std::string& out) {
  auto present = stringAttribute(o, name, out);
  if (!present) return std::move(present).error();
  if (!*present || out.empty()) return attributeError(name, "is required.");
  return {};
}

Status optionalAttribute(const json::object& o, std::string_view name,
                         std::optional<std::string>& out) {
  std::string value;
  auto present = stringAttribute(o, name, value);
  if (!present) return std::move(present).error();
  if (*present) out = std::move(value);
  return {};
}

// The checks shared by both modes, on the attributes once read.
Status checkAttributes(const CloudEvent& e) {
  if (e.eventID.empty()) return attributeError("id", "is required.");
  if (e.source.empty()) return attributeError("source", "is required.");
  if (!isUriReference(e.source)) return attributeError("source", "must be a URI reference.");
  if (e.eventType.empty()) return attributeError("type", "is required.");
  if (e.contentType && !isMediaType(*e.contentType)) {
    return attributeError("datacontenttype", "must be a media type (RFC 2046).");
  }
  if (e.schemaURL && !isAbsoluteUri(*e.schemaURL)) {
    return attributeError("dataschema", "must be an absolute URI.");
  }
  if (e.subject && e.subject->empty()) return attributeError("subject", "must not be empty.");
  if (e.eventTime && !isRfc3339(*e.eventTime)) {
    return attributeError("time", "must be an RFC 3339 time.");
  }
  for (const auto& [name, value] : e.extensions) {
    if (!isAttributeName(name)) {
      return attributeError(name, "is not a valid attribute name: [a-z0-9]{1,20}.");
    }
    if (isReserved(name)) return attributeError(name, "is not an extension attribute.");
    if (!value.is_string() && !value.is_number() && !value.is_bool()) {
      return attributeError(name, "must be a string, a number or a boolean.");
    }
  }
  return {};
}

Error versionError() { return attributeError("specversion", "must be \"1.0\"."); }

void writeContext(const CloudEvent& e, JsonWriter& w) {
  w.raw("{\"specversion\":\"1.0\",\"id\":").string(e.eventID);
  w.raw(",\"source\":").string(e.source);
  w.raw(",\"type\":").string(e.eventType);
  if (e.contentType) w.raw(",\"datacontenttype\":").string(*e.contentType);
  if (e.schemaURL) w.raw(",\"dataschema\":").string(*e.schemaURL);
  if (e.subject) w.raw(",\"subject\":").string(*e.subject);
  if (e.eventTime) w.raw(",\"time\":").string(*e.eventTime);
  for (const auto& [name, value] : e.extensions) {
    w.raw(',').key(name).value(value);
  }
}

}  // namespace

bool isAttributeName(std::string_view name) {
  if (name.empty() || name.size() > 20) return false;
  return std::all_of(name.begin(), name.end(),
                     [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

Result<CloudEvent> fromJsonV1(json::object& o) {
  CloudEvent e;
  e.specVersion = SpecVersion::k10;
  e.cloudEventsVersion = kSpecVersion10;
  std::string version;
  if (auto s = requiredAttribute(o, "specversion", version); !s) return std::move(s).error();
  if (version != kSpecVersion10) return versionError();
  if (auto s = requiredAttribute(o, "id", e.eventID); !s) return std::move(s).error();
  if (auto s = requiredAttribute(o, "source", e.source); !s) return std::move(s).error();
  if (auto s = requiredAttribute(o, "type", e.eventType); !s) return std::move(s).error();
  if (auto s = optionalAttribute(o, "datacontenttype", e.contentType); !s) {
    return std::move(s).error();
  }
  if (auto s = optionalAttribute(o, "dataschema", e.schemaURL); !s) return std::move(s).error();
  if (auto s = optionalAttribute(o, "subject", e.subject); !s) return std::move(s).error();
  if (auto s = optionalAttribute(o, "time", e.eventTime); !s) return std::move(s).error();

  const json::value* data = o.if_contains("data");
  if (data != nullptr && data->is_null()) data = nullptr;
  std::optional<std::string> base64;
  if (auto s = optionalAttribute(o, "data_base64", base64); !s) return std::move(s).error();
  if (base64) {
    if (data != nullptr) {
      return attributeError("data_base64", "cannot be set together with \"data\".");
    }
    if (!base64Decode(*base64)) return attributeError("data_base64", "must be base64 text.");
  }

  json::object extensions;
  for (const auto& [name, value] : o) {
    if (isReserved(name) || value.is_null()) continue;
    extensions.emplace(name, value);  // checked by checkAttributes; moved in below
  }
  e.extensions = std::move(extensions);
  if (auto s = checkAttributes(e); !s) return std::move(s).error();

  // Checked: take the data.
  if (base64) {
    e.data = json::string(*base64);
    e.dataBase64 = true;
  } else if (data != nullptr) {
    e.data = std::move(o["data"]);
  }
  return e;
}

Status validateV1(const CloudEvent& event) { return checkAttributes(event); }

Result<CloudEvent> fromStructuredJson(json::value&& value) {
  if (value.is_object()) {
    json::object& o = value.get_object();
    const json::value* version = o.if_contains("specversion");
    if (version != nullptr && !version->is_null()) {
      if (!version->is_string() || version->get_string() != kSpecVersion10) {
        return versionError();
      }
      return fromJsonV1(o);
    }
  }
  return fromJson(std::move(value));
}

std::string serializeV1(const CloudEvent& e) {
  std::string out;
  out.reserve(256 + e.eventType.size() + e.source.size());
  JsonWriter w(out);
  writeContext(e, w);
  if (e.dataBase64 && e.data.is_string()) {
    w.raw(",\"data_base64\":").value(e.data);
  } else if (!e.data.is_null()) {
    w.raw(",\"data\":").value(e.data);
  }
  w.raw('}');
  return out;
}

void convertTo(CloudEvent& e, SpecVersion version) {
  if (e.specVersion == version) return;
  if (version == SpecVersion::k01) {
    e.specVersion = SpecVersion::k01;
    e.cloudEventsVersion = "0.1";
    if (e.subject) {
      if (!e.extensions.contains("subject")) e.extensions.emplace("subject", *e.subject);
      e.subject.reset();
    }
    e.dataBase64 = false;
    return;
  }

  const bool gatewayBuilt = e.marked;
  unmark(e);
  e.specVersion = SpecVersion::k10;
  e.cloudEventsVersion = kSpecVersion10;
  json::object extensions;
  extensions.reserve(e.extensions.size() + 1);
  if (e.eventTypeVersion) {
    extensions.emplace("eventtypeversion", *e.eventTypeVersion);
    e.eventTypeVersion.reset();
  }
  for (auto& [name, value] : e.extensions) {
    if (!isAttributeName(name) || isReserved(name) || value.is_null()) continue;
    if (value.is_object() || value.is_array()) {
      extensions[name] = json::serialize(value);
    } else {
      extensions[name] = std::move(value);
    }
  }
  e.extensions = std::move(extensions);
  e.dataBase64 = gatewayBuilt && e.data.is_string() && e.contentType &&
                 bodyKind(*e.contentType) == BodyKind::kOpaque;
}

Result<std::vector<CloudEvent>> parseBatch(std::string_view body) {
  json::parse_options options;
  options.max_depth = 64;
  boost::system::error_code ec;
  json::value value = parseValue(body, ec, {}, options);
  if (ec) return Error::invalid("CloudEvent batch is not valid JSON: " + ec.message());
  if (!value.is_array()) return Error::invalid("CloudEvent batch must be a JSON array.");
  json::array& members = value.get_array();
  std::vector<CloudEvent> events;
  events.reserve(members.size());
  for (std::size_t i = 0; i < members.size(); ++i) {
    auto member = [&]() -> Result<CloudEvent> {
      if (!members[i].is_object()) {
        return Error::invalid(std::string(kInvalidPrefix) + "must be a JSON object.");
      }
      json::object& o = members[i].get_object();
      const json::value* version = o.if_contains("specversion");
      if (version == nullptr || version->is_null()) {
        return attributeError("specversion", "is required.");
      }
      if (!version->is_string() || version->get_string() != kSpecVersion10) return versionError();
      return fromJsonV1(o);
    }();
    if (!member) {
      std::string message = member.error().message;
      message.replace(0, kInvalidPrefix.size(),
                      "CloudEvent batch member " + std::to_string(i) + " doesn't validate: ");
      return Error::invalid(std::move(message));
    }
    events.push_back(std::move(*member));
  }
  return events;
}

}  // namespace eg::events
