#include "events/event_format.h"

#include "common/base64.h"
#include "common/http_syntax.h"
#include "common/json.h"
#include "events/cloud_event_v1.h"
#include "events/request_to_event.h"
#include "events/trace_context.h"

namespace eg::events {

namespace json = boost::json;

namespace {

constexpr std::string_view kStructuredType = "application/cloudevents+json";

// A header value as the CloudEvents HTTP binding writes it: space, '"', '%' and every
// byte outside printable ASCII percent-encoded (so no CR, LF or NUL reaches the head).
std::string headerValue(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7f || c == '"' || c == '%') {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 15];
    } else {
      out += c;
    }
  }
  return out;
}

std::string headerValue(const json::value& value) {
  if (value.is_string()) return headerValue(std::string_view(value.get_string()));
  return headerValue(json::serialize(value));
}

bool isToken(std::string_view name) {
  if (name.empty()) return false;
  for (const char c : name) {
    if (!isHttpTokenChar(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

// The body of binary mode: the data as the bytes it stands for. Without a content type,
// 1.0 data is JSON (the JSON format's default) and 0.1 data opaque (as 0.1 binary mode
// reads a body without one).
std::string dataBody(const CloudEvent& e) {
  if (e.data.is_null()) return {};
  if (e.data.is_string()) {
    const std::string_view text(e.data.get_string());
    if (e.dataBase64) {
      if (auto bytes = base64Decode(text)) return std::move(*bytes);
    }
    const bool v1 = e.specVersion == SpecVersion::k10;
    const BodyKind kind =
        e.contentType ? bodyKind(*e.contentType) : (v1 ? BodyKind::kJson : BodyKind::kOpaque);
    if (!v1 && kind == BodyKind::kOpaque) {
      if (auto bytes = base64Decode(text)) return std::move(*bytes);
    }
    if (kind != BodyKind::kJson) return std::string(text);
  }
  return json::serialize(e.data);
}

EventMessage binaryV1(const CloudEvent& e) {
  EventMessage m;
  auto& h = m.headers;
  h.reserve(8 + e.extensions.size());
  h.emplace_back("ce-specversion", kSpecVersion10);
  h.emplace_back("ce-id", headerValue(e.eventID));
  h.emplace_back("ce-source", headerValue(e.source));
  h.emplace_back("ce-type", headerValue(e.eventType));
  if (e.eventTime) h.emplace_back("ce-time", headerValue(*e.eventTime));
  if (e.subject) h.emplace_back("ce-subject", headerValue(*e.subject));
  if (e.schemaURL) h.emplace_back("ce-dataschema", headerValue(*e.schemaURL));
  for (const auto& [name, value] : e.extensions) {
    h.emplace_back("ce-" + std::string(name), headerValue(value));
  }
  if (e.contentType) {
    if (isHttpFieldValue(*e.contentType)) h.emplace_back("Content-Type", *e.contentType);
  } else if (!e.data.is_null() && !e.dataBase64) {
    h.emplace_back("Content-Type", "application/json");
  }
  m.body = dataBody(e);
  return m;
}

EventMessage binaryV01(const CloudEvent& e) {
  EventMessage m;
  auto& h = m.headers;
  h.reserve(8 + e.extensions.size());
  h.emplace_back("CE-EventType", headerValue(e.eventType));
  if (e.eventTypeVersion) h.emplace_back("CE-EventTypeVersion", headerValue(*e.eventTypeVersion));
  h.emplace_back("CE-CloudEventsVersion", "0.1");
  h.emplace_back("CE-Source", headerValue(e.source));
  h.emplace_back("CE-EventID", headerValue(e.eventID));
  if (e.eventTime) h.emplace_back("CE-EventTime", headerValue(*e.eventTime));
  if (e.schemaURL) h.emplace_back("CE-SchemaURL", headerValue(*e.schemaURL));
  for (const auto& [name, value] : allExtensions(e)) {
    if (!isToken(name)) continue;
    std::string header = "CE-X-" + std::string(name);
    if (header[5] >= 'a' && header[5] <= 'z') header[5] = static_cast<char>(header[5] - 32);
    h.emplace_back(std::move(header), headerValue(value));
  }
  // A 0.1 contentType is any string: one that is no header value is left out.
  if (e.contentType && isHttpFieldValue(*e.contentType)) {
    h.emplace_back("Content-Type", *e.contentType);
  }
  m.body = dataBody(e);
  return m;
}

}  // namespace

Result<EventMessage> formatEvent(std::string_view payload, EventVersion version, EventMode mode,
                                 TraceContext trace) {
  boost::system::error_code ec;
  json::value value = parseValue(payload, ec);
  if (ec) return Error::internal("event to format is not JSON: " + ec.message());
  auto event = fromStructuredJson(std::move(value));
  if (!event) return Error::internal("event to format: " + event.error().message);
  if (version == EventVersion::k01) convertTo(*event, SpecVersion::k01);
  if (version == EventVersion::k10) convertTo(*event, SpecVersion::k10);
  // An event that arrived as 0.1 carries the trace context once it is 1.0.
  attachTrace(*event, trace);

  if (mode == EventMode::kStructured) {
    EventMessage m;
    m.headers.emplace_back("Content-Type", kStructuredType);
    m.body = serialize(*event);
    return m;
  }
  return event->specVersion == SpecVersion::k10 ? binaryV1(*event) : binaryV01(*event);
}

}  // namespace eg::events
