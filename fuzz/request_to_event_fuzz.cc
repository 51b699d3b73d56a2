// Request -> event (events/request_to_event). Input, line by line: method, target, the
// decoded path, header lines "name: value" up to an empty line, then the body. The
// request is turned into an event once per mode (spec section 3.1): as it is, and with
// the headers that select structured, binary (CE-*/ce-*), CloudEvents 1.0 binary
// (ce-specversion) or batch, legacy (Event) mode, or an http.request event with a JSON,
// form or opaque body, put before its own headers.
// Checks: every event (every batch member) is written as valid JSON (what functions
// receive), whose type and ID are the event's; a 1.0 event reads back as itself; every
// event can be formatted in every version and mode a function may ask for; an
// http.request event stays valid with path parameters set; and httpRequestText is the
// JSON of toJson(httpRequestData(...)).

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/http_syntax.h"
#include "common/json.h"
#include "events/cloud_event_v1.h"
#include "events/event_format.h"
#include "events/request_to_event.h"
#include "byte_reader.h"

namespace {

namespace events = eg::events;
namespace json = boost::json;
using Headers = std::vector<std::pair<std::string_view, std::string_view>>;

const std::vector<Headers> kModes = {
    {},
    {{"Content-Type", "application/cloudevents+json; charset=utf-8"}},
    {{"CE-EventType", "user.created"},
     {"CE-CloudEventsVersion", "0.1"},
     {"CE-Source", "/users"},
     {"CE-EventID", "6f6ada3b"},
     {"Content-Type", "application/json"}},
    {{"ce-eventtype", "user.created"},
     {"ce-cloudeventsversion", "0.1"},
     {"ce-source", "https://example.com/users"},
     {"ce-eventid", "1"},
     {"ce-eventtime", "2026-11-28T09:00:00Z"},
     {"Content-Type", "text/plain"}},
    {{"ce-specversion", "1.0"},
     {"ce-id", "1"},
     {"ce-source", "/users"},
     {"ce-type", "user.created"},
     {"Content-Type", "application/json"}},
    {{"Content-Type", "application/cloudevents-batch+json"}},
    {{"Event", "user.created"}, {"Content-Type", "application/json"}},
    {{"Event", "user.created"}},
    {{"Content-Type", "application/json"}},
    {{"Content-Type", "application/x-www-form-urlencoded"}},
    {{"Content-Type", "application/octet-stream"}},
};

void check(bool ok) {
  if (!ok) std::abort();
}

json::value parsed(std::string_view text) {
  boost::system::error_code ec;
  json::value v = eg::parseValue(text, ec);
  check(!ec);
  return v;
}

bool isTarget(std::string_view s) {
  if (s.empty()) return false;
  for (unsigned char c : s) {
    if (c <= 0x20 || c == 0x7f) return false;
  }
  return true;
}

// `s` as a JSON string reads back (invalid UTF-8 mended, as every writer mends it).
json::string asWritten(std::string_view s) {
  std::string out;
  eg::JsonWriter(out).string(s);
  return parsed(out).as_string();
}

// What every written event promises: a 1.0 event reads back as itself, and a function
// may receive it in any version and mode.
void checkWritten(const std::string& text) {
  auto back = events::fromStructuredJson(parsed(text));
  check(back.ok());
  if (back->specVersion == events::SpecVersion::k10) check(events::serialize(*back) == text);
  for (auto version : {events::EventVersion::kAsReceived, events::EventVersion::k01,
                       events::EventVersion::k10}) {
    for (auto mode : {events::EventMode::kStructured, events::EventMode::kBinary}) {
      auto message = events::formatEvent(text, version, mode);
      check(message.ok());
      for (const auto& [name, value] : message->headers) {
        check(eg::isHttpToken(name) && eg::isHttpFieldValue(value));
      }
    }
  }
}

void checkEvent(const eg::net::Request& req, std::string_view path,
                const std::vector<std::pair<std::string, std::string>>& params) {
  auto incoming = events::eventFromRequest(req, path);
  if (!incoming) return;
  if (incoming->kind == events::IncomingEvent::kBatch) {
    for (const auto& member : incoming->batch) checkWritten(events::serialize(member));
    return;
  }
  const bool v1 = incoming->event.specVersion == events::SpecVersion::k10;
  const json::string eventType = asWritten(incoming->event.eventType);
  const json::string eventId = asWritten(events::eventId(*incoming));
  const bool httpRequest = incoming->kind == events::IncomingEvent::kHttpRequest;
  if (httpRequest) check(events::setPathParams(*incoming, params));
  const std::string text = events::takeEventJson(*incoming);
  checkWritten(text);
  const json::value event = parsed(text);
  const json::object& o = event.as_object();
  check(o.at(v1 ? "type" : "eventType").as_string() == eventType &&
        o.at(v1 ? "id" : "eventID").as_string() == eventId);
  if (httpRequest) {
    // A name given twice keeps its last value.
    const json::object& given = o.at("data").at("params").as_object();
    for (const auto& [name, value] : params) check(given.contains(name));
    if (!params.empty()) {
      check(given.at(params.back().first).as_string() == asWritten(params.back().second));
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  eg::fuzz::ByteReader in(data, size);
  const std::string_view method = in.line();
  const std::string_view target = in.line();
  const std::string_view path = in.line();
  // The request's own headers, and the path parameters an http.request event gets.
  // Owned strings, as the parser's fields are: Beast 1.81's iequals reads one byte past
  // the strings it compares (fixed upstream), which a view into the input would make
  // a read past the input's end.
  std::vector<std::pair<std::string, std::string>> fields;
  for (std::string_view line = in.line(); !line.empty(); line = in.line()) {
    const std::size_t colon = line.find(':');
    std::string_view name = line.substr(0, colon);
    std::string_view value = colon == std::string_view::npos ? "" : line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    // What the server's parser lets through.
    if (!eg::isHttpToken(name) || !eg::isHttpFieldValue(value)) continue;
    fields.emplace_back(name, value);
  }
  const std::string_view body = in.rest();

  for (const Headers& mode : kModes) {
    eg::net::Request req;
    req.method_string(eg::isHttpToken(method) ? method : "POST");
    req.target(isTarget(target) ? target : "/");
    for (const auto& [name, value] : mode) req.insert(name, value);
    for (const auto& [name, value] : fields) req.insert(name, value);
    req.body() = body;
    checkEvent(req, path, fields);

    // The text written straight from the request is the JSON of its HttpRequestData.
    const json::value text = parsed(events::httpRequestText(req, path));
    std::string built;
    eg::JsonWriter(built).object(events::toJson(events::httpRequestData(req, path)));
    check(text == parsed(built));
    check(events::httpRequestJson(req, path) == text.get_object());
  }
  return 0;
}
