#include "events/request_to_event.h"

#include <utility>

#include <boost/beast/core/string.hpp>

#include "common/http_syntax.h"
#include "common/json.h"
#include "events/cloud_event_v1.h"
#include "events/gateway_event.h"

namespace eg::events {

namespace json = boost::json;
namespace http = boost::beast::http;
using boost::beast::iequals;

namespace {

constexpr std::string_view kCloudEventsMediaType = "application/cloudevents+json";
constexpr std::string_view kBatchMediaType = "application/cloudevents-batch+json";

json::parse_options parseOptions() {
  json::parse_options options;
  options.max_depth = 64;
  return options;
}

bool isSpace(char c) { return c == ' ' || c == '\t'; }

// "Application/JSON; charset=utf-8" -> "Application/JSON".
std::string_view mediaType(std::string_view contentType) {
  const std::size_t semi = contentType.find(';');
  if (semi != std::string_view::npos) contentType = contentType.substr(0, semi);
  while (!contentType.empty() && isSpace(contentType.front())) contentType.remove_prefix(1);
  while (!contentType.empty() && isSpace(contentType.back())) contentType.remove_suffix(1);
  return contentType;
}

bool iendsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals(s.substr(s.size() - suffix.size()), suffix);
}

bool istartsWith(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && iequals(s.substr(0, prefix.size()), prefix);
}

char toUpper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }
char toLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// Go's textproto.CanonicalMIMEHeaderKey, so that functions written for the Go gateway
// find headers under the same names. Names with bytes outside the token set stay as
// they are, as in Go.
void canonicalHeaderName(std::string_view name, std::string& out) {
  out.assign(name.data(), name.size());
  for (char c : name) {
    if (!isHttpTokenChar(static_cast<unsigned char>(c))) return;
  }
  bool upper = true;
  for (char& c : out) {
    c = upper ? toUpper(c) : toLower(c);
    upper = c == '-';
  }
}

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// %XX escapes decoded, and '+' read as space when `plusIsSpace` (query components; not
// CloudEvents 1.0 header values); a malformed escape is kept.
void decodeComponent(std::string_view in, std::string& out, bool plusIsSpace = true) {
  out.clear();
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+' && plusIsSpace) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() && hexValue(in[i + 1]) >= 0 &&
               hexValue(in[i + 2]) >= 0) {
      out.push_back(static_cast<char>(hexValue(in[i + 1]) * 16 + hexValue(in[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
}

// Calls fn(name, value) for each decoded pair of the query of `target`, in order.
template <class Fn>
void forEachQueryPair(std::string_view target, Fn&& fn) {
  std::string value;
  forEachRawQueryPair(target, [&](const std::string& name, std::string_view raw) {
    decodeComponent(raw, value);
    fn(name, value);
  });
}

// Calls fn(canonicalName, value) for each header but Host, in order.
template <class Fn>
void forEachHeader(const net::Request& req, Fn&& fn) {
  std::string name;
  for (const auto& field : req) {
    if (field.name() == http::field::host) continue;
    canonicalHeaderName(field.name_string(), name);
    fn(name, field.value());
  }
}

// Scratch space of the writers below, reused by every request of the thread so that
// writing the data of an event allocates nothing once warm.
struct Scratch {
  std::vector<std::string> names;
  std::vector<std::string_view> values;
  std::vector<std::pair<std::string, std::string>> pairs;
  std::string joined;
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// {"<Canonical-Name>":"<value>[, <value>...]",...}: headers but Host, grouped by
// canonical name in the order of their first appearance.
void writeHeaders(const net::Request& req, JsonWriter& w) {
  Scratch& sc = scratch();
  std::size_t n = 0;
  sc.values.clear();
  forEachHeader(req, [&](const std::string& name, std::string_view value) {
    if (sc.names.size() <= n) sc.names.emplace_back();
    sc.names[n++] = name;
    sc.values.push_back(value);
  });
  w.raw('{');
  bool first = true;
  for (std::size_t i = 0; i < n; ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) seen = sc.names[j] == sc.names[i];
    if (seen) continue;
    if (!first) w.raw(',');
    first = false;
    w.key(sc.names[i]);
    std::size_t more = i + 1;
    while (more < n && sc.names[more] != sc.names[i]) ++more;
    if (more == n) {
      w.string(sc.values[i]);
      continue;
    }
    sc.joined.assign(sc.values[i]);
    for (std::size_t k = more; k < n; ++k) {
      if (sc.names[k] == sc.names[i]) sc.joined.append(", ").append(sc.values[k]);
    }
    w.string(sc.joined);
  }
  w.raw('}');
}

// {"<name>":["<value>",...],...}: decoded query pairs grouped by name in the order of
// their first appearance.
void writeQuery(std::string_view target, JsonWriter& w) {
  Scratch& sc = scratch();
  std::size_t n = 0;
  forEachQueryPair(target, [&](const std::string& name, const std::string& value) {
    if (sc.pairs.size() <= n) sc.pairs.emplace_back();
    sc.pairs[n].first = name;
    sc.pairs[n].second = value;
    ++n;
  });
  w.raw('{');
  bool first = true;
  for (std::size_t i = 0; i < n; ++i) {
    bool seen = false;
    for (std::size_t j = 0; j < i && !seen; ++j) seen = sc.pairs[j].first == sc.pairs[i].first;
    if (seen) continue;
    if (!first) w.raw(',');
    first = false;
    w.key(sc.pairs[i].first).raw('[');
    for (std::size_t k = i; k < n; ++k) {
      if (k != i && sc.pairs[k].first != sc.pairs[i].first) continue;
      if (k != i) w.raw(',');
      w.string(sc.pairs[k].second);
    }
    w.raw(']');
  }
  w.raw('}');
}

// normalizeData's result, written as text.
void writeBody(std::string_view body, std::string_view contentType, JsonWriter& w) {
  if (body.empty()) {
    w.raw("null");
    return;
  }
  switch (bodyKind(contentType)) {
    case BodyKind::kJson: {
      // Parsed (to re-emit it compact) into a buffer on the stack when it is small.
      unsigned char buffer[4096];
      json::monotonic_resource resource(buffer, sizeof buffer);
      boost::system::error_code ec;
      const json::value parsed = parseValue(body, ec, &resource, parseOptions());
      if (!ec) {
        w.value(parsed);
      } else {
        w.string(body);
      }
      return;
    }
    case BodyKind::kForm:
      w.string(body);
      return;
    case BodyKind::kOpaque:
      break;
  }
  // Base64 needs no escaping.
  w.raw('"').raw(base64Encode(body)).raw('"');
}

constexpr std::string_view kEmptyParams = "{}";

std::string_view headerValue(const net::Request& req, std::string_view name) {
  const auto it = req.find(name);
  return it == req.end() ? std::string_view{} : std::string_view(it->value());
}

// The headers the rules of eventFromRequest look at, found in one pass over the
// request's fields instead of one lookup each. The first of repeated headers wins, as
// with a lookup.
struct RuleHeaders {
  std::string_view contentType;
  std::string_view host;
  std::string_view eventType;
  std::string_view version;
  std::string_view source;
  std::string_view eventId;
  std::string_view legacy;
  std::string_view specVersion;  // CloudEvents 1.0 binary mode: ce-specversion

  explicit RuleHeaders(const net::Request& req) {
    auto take = [](std::string_view& slot, std::string_view value) {
      if (slot.data() == nullptr) slot = value.empty() ? std::string_view("", 0) : value;
    };
    for (const auto& field : req) {
      switch (field.name()) {
        case http::field::content_type:
          take(contentType, field.value());
          continue;
        case http::field::host:
          take(host, field.value());
          continue;
        case http::field::unknown:
          break;
        default:
          continue;
      }
      const std::string_view name = field.name_string();
      if (iequals(name, "Event")) {
        take(legacy, field.value());
      } else if (name.size() > 3 && istartsWith(name, "CE-")) {
        const std::string_view rest = name.substr(3);
        if (iequals(rest, "EventType")) take(eventType, field.value());
        else if (iequals(rest, "CloudEventsVersion")) take(version, field.value());
        else if (iequals(rest, "Source")) take(source, field.value());
        else if (iequals(rest, "EventID")) take(eventId, field.value());
        else if (iequals(rest, "specversion")) take(specVersion, field.value());
      }
    }
  }
};

IncomingEvent incomingEvent(CloudEvent event, IncomingEvent::Kind kind, bool gatewayBuilt) {
  IncomingEvent incoming;
  incoming.event = std::move(event);
  incoming.kind = kind;
  incoming.gatewayBuilt = gatewayBuilt;
  return incoming;
}

Result<IncomingEvent> structuredEvent(const net::Request& req) {
  boost::system::error_code ec;
  json::value value = parseValue(req.body(), ec, {}, parseOptions());
  if (ec) return Error::invalid("CloudEvent is not valid JSON: " + ec.message());
  auto event = fromStructuredJson(std::move(value));
  if (!event) return std::move(event).error();
  return incomingEvent(std::move(*event), IncomingEvent::kStructured, false);
}

Result<IncomingEvent> batchEvent(const net::Request& req) {
  auto members = parseBatch(req.body());
  if (!members) return std::move(members).error();
  IncomingEvent incoming;
  incoming.kind = IncomingEvent::kBatch;
  incoming.batch = std::move(*members);
  return incoming;
}

bool isTextType(std::string_view contentType) {
  const std::string_view type = mediaType(contentType);
  return istartsWith(type, "text/") || iequals(type, "application/xml") ||
         iendsWith(type, "+xml");
}

// The data of a 1.0 binary-mode event: JSON types parsed, text and form types as text,
// anything else, and whatever would not survive as JSON text, as bytes (data_base64).
void setBinaryData(CloudEvent& event, const std::string& body, std::string_view contentType) {
  if (body.empty()) return;
  const BodyKind kind = bodyKind(contentType);
  if (kind == BodyKind::kJson) {
    boost::system::error_code ec;
    json::value data = parseValue(body, ec, {}, parseOptions());
    if (!ec) {
      event.data = std::move(data);
      return;
    }
  } else if ((kind == BodyKind::kForm || isTextType(contentType)) && isValidUtf8(body)) {
    event.data = json::string(body);
    return;
  }
  event.data = json::string(base64Encode(body));
  event.dataBase64 = true;
}

// CloudEvents 1.0 binary mode (spec §3.8): every ce-<name> header is the attribute
// <name>, the first of repeated headers winning; Content-Type is datacontenttype.
Result<IncomingEvent> binaryEventV1(const net::Request& req, std::string_view version,
                                    std::string_view contentType) {
  if (version != kSpecVersion10) {
    return Error::invalid(R"(CloudEvent doesn't validate: attribute "specversion" must be "1.0".)");
  }
  CloudEvent event;
  event.specVersion = SpecVersion::k10;
  event.cloudEventsVersion = kSpecVersion10;
  if (!contentType.empty()) event.contentType = contentType;
  std::string name;
  for (const auto& field : req) {
    const std::string_view header = field.name_string();
    if (header.size() <= 3 || !istartsWith(header, "ce-")) continue;
    name.assign(header.substr(3));
    for (char& c : name) c = toLower(c);
    // Values are percent-encoded, as the HTTP binding asks.
    std::string value;
    decodeComponent(field.value(), value, false);
    auto setOnce = [&](std::string& slot) {
      if (slot.empty()) slot = std::move(value);
    };
    auto setOptional = [&](std::optional<std::string>& slot) {
      if (!slot) slot = std::move(value);
    };
    if (name == "specversion") continue;
    if (name == "id") setOnce(event.eventID);
    else if (name == "source") setOnce(event.source);
    else if (name == "type") setOnce(event.eventType);
    else if (name == "time") setOptional(event.eventTime);
    else if (name == "subject") setOptional(event.subject);
    else if (name == "dataschema") setOptional(event.schemaURL);
    else if (name == "datacontenttype") setOptional(event.contentType);
    else if (!event.extensions.contains(name)) event.extensions.emplace(name, std::move(value));
  }
  if (auto status = validateV1(event); !status) return std::move(status).error();
  setBinaryData(event, req.body(), event.contentType ? *event.contentType : "");
  return incomingEvent(std::move(event), IncomingEvent::kBinary, false);
}

Result<IncomingEvent> binaryEvent(const net::Request& req, std::string_view eventType,
                                  std::string_view version, std::string_view source,
                                  std::string_view eventId, std::string_view contentType) {
  CloudEvent event;
  event.eventType = eventType;
  event.cloudEventsVersion = version;
  event.source = source;
  event.eventID = eventId;
  if (auto v = headerValue(req, "CE-EventTypeVersion"); !v.empty()) event.eventTypeVersion = v;
  if (auto v = headerValue(req, "CE-EventTime"); !v.empty()) event.eventTime = v;
  if (auto v = headerValue(req, "CE-SchemaURL"); !v.empty()) event.schemaURL = v;
  if (!contentType.empty()) event.contentType = contentType;
  if (auto status = validate(event); !status) return std::move(status).error();

  constexpr std::string_view kExtensionPrefix = "CE-X-";
  std::string name;
  for (const auto& field : req) {
    const std::string_view header = field.name_string();
    if (header.size() <= kExtensionPrefix.size() || !istartsWith(header, kExtensionPrefix)) {
      continue;
    }
    name.assign(header.substr(kExtensionPrefix.size()));
    name[0] = toLower(name[0]);
    // The first of repeated headers wins, as a header lookup would.
    if (!event.extensions.contains(name)) event.extensions.emplace(name, field.value());
  }
  event.data = normalizeData(req.body(), contentType);
  return incomingEvent(std::move(event), IncomingEvent::kBinary, false);
}

IncomingEvent legacyEvent(const net::Request& req, std::string_view eventType,
                          std::string_view contentType) {
  const std::string& body = req.body();
  json::value data;
  bool parsed = false;
  if (!body.empty() && bodyKind(contentType) == BodyKind::kJson) {
    boost::system::error_code ec;
    data = parseValue(body, ec, {}, parseOptions());
    if (!ec) {
      parsed = true;
      if (data.is_object() && (data.get_object().contains("eventType") ||
                               data.get_object().contains("specversion"))) {
        // A failed check leaves `data` untouched: it becomes the data of a built event.
        if (auto event = fromStructuredJson(std::move(data)); event) {
          return incomingEvent(std::move(*event), IncomingEvent::kLegacy, false);
        }
      }
    }
  }
  CloudEvent event = gatewayEvent(std::string(eventType));
  if (!contentType.empty()) event.contentType = contentType;
  event.data = parsed ? std::move(data) : normalizeData(body, contentType);
  return incomingEvent(std::move(event), IncomingEvent::kLegacy, true);
}

}  // namespace

BodyKind bodyKind(std::string_view contentType) {
  const std::string_view media = mediaType(contentType);
  if (media.empty()) return BodyKind::kOpaque;
  if (iequals(media, "application/json") || iendsWith(media, "+json")) return BodyKind::kJson;
  if (iequals(media, "application/x-www-form-urlencoded") ||
      iequals(media, "multipart/form-data")) {
    return BodyKind::kForm;
  }
  return BodyKind::kOpaque;
}

json::value normalizeData(std::string_view body, std::string_view contentType) {
  if (body.empty()) return nullptr;
  switch (bodyKind(contentType)) {
    case BodyKind::kJson: {
      boost::system::error_code ec;
      json::value parsed = parseValue(body, ec, {}, parseOptions());
      if (!ec) return parsed;
      return json::string(body);
    }
    case BodyKind::kForm:
      return json::string(body);
    case BodyKind::kOpaque:
      break;
  }
  return json::string(base64Encode(body));
}

std::map<std::string, std::vector<std::string>> parseQuery(std::string_view target) {
  std::map<std::string, std::vector<std::string>> query;
  forEachQueryPair(target, [&](const std::string& name, const std::string& value) {
    query[name].push_back(value);
  });
  return query;
}

void decodeQueryComponent(std::string_view in, std::string& out) { decodeComponent(in, out); }

HttpRequestData httpRequestData(const net::Request& req, std::string_view path) {
  HttpRequestData data;
  data.path = path;
  data.method = req.method_string();
  data.host = headerValue(req, "Host");
  forEachHeader(req, [&](const std::string& name, std::string_view value) {
    for (auto& [existing, joined] : data.headers) {
      if (existing == name) {
        joined.append(", ").append(value);
        return;
      }
    }
    data.headers.emplace_back(name, value);
  });
  data.query = parseQuery(req.target());
  data.body = req.body();
  if (const auto it = req.find(http::field::content_type); it != req.end()) {
    data.contentType = it->value();
  }
  return data;
}

namespace {

json::object requestObject(std::string_view path, std::string_view method, std::string_view host,
                           json::object headers, json::object query, json::object params,
                           json::value body) {
  json::object o;
  o.reserve(7);
  o.emplace("path", path);
  o.emplace("method", method);
  o.emplace("headers", std::move(headers));
  o.emplace("host", host);
  o.emplace("query", std::move(query));
  o.emplace("params", std::move(params));
  o.emplace("body", std::move(body));
  return o;
}

}  // namespace

json::object toJson(const HttpRequestData& data) {
  json::object headers;
  for (const auto& [name, value] : data.headers) headers.emplace(name, value);
  json::object query;
  for (const auto& [name, values] : data.query) {
    json::array list;
    list.reserve(values.size());
    for (const auto& v : values) list.emplace_back(v);
    query.emplace(name, std::move(list));
  }
  json::object params;
  for (const auto& [name, value] : data.params) params.emplace(name, value);
  return requestObject(data.path, data.method, data.host, std::move(headers), std::move(query),
                       std::move(params), normalizeData(data.body, data.contentType));
}

namespace {

// Appends the http.request data of `req` to `out`; `paramsAt`, when given, receives the
// offset of the params object in `out`.
void writeRequestText(const net::Request& req, std::string_view path, std::string_view host,
                      std::string_view contentType, std::size_t* paramsAt, std::string& out) {
  JsonWriter w(out);
  w.raw("{\"path\":").string(path);
  w.raw(",\"method\":").string(req.method_string());
  w.raw(",\"headers\":");
  writeHeaders(req, w);
  w.raw(",\"host\":").string(host);
  w.raw(",\"query\":");
  writeQuery(req.target(), w);
  w.raw(",\"params\":");
  if (paramsAt != nullptr) *paramsAt = out.size();
  w.raw(kEmptyParams);
  w.raw(",\"body\":");
  writeBody(req.body(), contentType, w);
  w.raw('}');
}

std::size_t requestTextReserve(const net::Request& req, std::string_view path) {
  return 256 + path.size() + req.target().size() + req.body().size() * 4 / 3;
}

std::string requestText(const net::Request& req, std::string_view path, std::string_view host,
                        std::string_view contentType, std::size_t* paramsAt) {
  std::string out;
  out.reserve(requestTextReserve(req, path));
  writeRequestText(req, path, host, contentType, paramsAt, out);
  return out;
}

// The start of every http.request event's text, up to its eventID.
constexpr std::string_view kTextEventType =
    R"({"eventType":"http.request","cloudEventsVersion":")";
constexpr std::string_view kTextSource = R"(","source":")";
constexpr std::string_view kTextEventId = R"(","eventID":")";
constexpr std::size_t kTextEventIdAt = kTextEventType.size() + kCloudEventsVersion.size() +
                                       kTextSource.size() + kGatewaySource.size() +
                                       kTextEventId.size();

// Rule 4: the http.request event, written as the JSON text serialize would give for
// gatewayEvent("http.request") with this contentType and data.
IncomingEvent httpRequestEvent(const net::Request& req, std::string_view path,
                               std::string_view host, std::string_view contentType) {
  IncomingEvent incoming;
  incoming.kind = IncomingEvent::kHttpRequest;
  incoming.gatewayBuilt = true;
  incoming.event.eventType = kHttpRequestEventType;
  if (!contentType.empty()) incoming.event.contentType = contentType;

  std::string& out = incoming.text;
  out.reserve(256 + contentType.size() + requestTextReserve(req, path));
  out += kTextEventType;
  out += kCloudEventsVersion;
  out += kTextSource;
  out += kGatewaySource;
  out += kTextEventId;
  appendEventId(out);
  out += R"(","eventTime":")";
  appendRfc3339(out);
  out += '"';
  if (!contentType.empty()) {
    out += R"(,"contentType":)";
    JsonWriter(out).string(contentType);
  }
  out += R"(,"extensions":)";
  out += kGatewayExtensionsJson;
  out += R"(,"data":)";
  writeRequestText(req, path, host, contentType, &incoming.paramsAt, out);
  out += '}';
  return incoming;
}

}  // namespace

std::string httpRequestText(const net::Request& req, std::string_view path,
                            std::size_t* paramsAt) {
  const RuleHeaders headers(req);
  return requestText(req, path, headers.host, headers.contentType, paramsAt);
}

json::object httpRequestJson(const net::Request& req, std::string_view path) {
  return json::parse(httpRequestText(req, path)).as_object();
}

Result<IncomingEvent> eventFromRequest(const net::Request& req, std::string_view path) {
  const RuleHeaders h(req);
  const std::string_view contentType = h.contentType;

  const std::string_view media = mediaType(contentType);
  if (iequals(media, kBatchMediaType)) return batchEvent(req);
  if (iequals(media, kCloudEventsMediaType)) return structuredEvent(req);
  if (h.specVersion.data() != nullptr) return binaryEventV1(req, h.specVersion, contentType);

  if (!h.eventType.empty() && !h.version.empty() && !h.source.empty() && !h.eventId.empty()) {
    return binaryEvent(req, h.eventType, h.version, h.source, h.eventId, contentType);
  }

  if (!h.legacy.empty()) return legacyEvent(req, h.legacy, contentType);

  return httpRequestEvent(req, path, h.host, contentType);
}

std::string takeEventJson(IncomingEvent& incoming) {
  if (!incoming.text.empty()) return std::exchange(incoming.text, {});
  return serialize(incoming.event);
}

std::string_view eventId(const IncomingEvent& incoming) {
  if (incoming.text.empty()) return incoming.event.eventID;
  return std::string_view(incoming.text).substr(kTextEventIdAt, 36);
}

bool setPathParams(IncomingEvent& incoming,
                   const std::vector<std::pair<std::string, std::string>>& params) {
  std::string& text = incoming.text;
  const std::size_t at = incoming.paramsAt;
  if (text.empty() || at == std::string::npos || at + incoming.paramsSize > text.size()) {
    return false;
  }
  std::string object;
  JsonWriter w(object);
  w.raw('{');
  for (std::size_t i = 0; i < params.size(); ++i) {
    // A name given twice keeps its last value, as an object assignment would.
    bool later = false;
    for (std::size_t j = i + 1; j < params.size() && !later; ++j) {
      later = params[j].first == params[i].first;
    }
    if (later) continue;
    if (object.size() > 1) w.raw(',');
    w.key(params[i].first).string(params[i].second);
  }
  w.raw('}');
  text.replace(at, incoming.paramsSize, object);
  incoming.paramsSize = object.size();
  return true;
}

}  // namespace eg::events
