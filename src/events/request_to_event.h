#pragma once

#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "common/base64.h"
#include "common/result.h"
#include "events/cloud_event.h"
#include "net/http_server.h"

namespace eg::events {

// Turning an Events API request into a CloudEvent (spec §3.1). Everything here is a
// pure function of its arguments (apart from the random IDs and the clock of events
// the gateway builds): no sockets, no shared state, safe on any thread.

inline constexpr std::string_view kHttpRequestEventType = "http.request";

// The data of an `http.request` event, and the `request` an authorizer receives.
struct HttpRequestData {
  std::string path;    // decoded, without the query
  std::string method;
  std::string host;
  // One entry per header name, in the canonical form Go's net/http uses
  // ("content-type" -> "Content-Type"); repeated headers joined with ", ". The Host
  // header is not among them: it is `host`.
  std::vector<std::pair<std::string, std::string>> headers;
  // Query parameters, percent-decoded and '+' read as space; a repeated name keeps
  // every value in order.
  std::map<std::string, std::vector<std::string>> query;
  std::map<std::string, std::string> params;  // path parameters, filled by the router
  std::string body;                            // raw
  // The first Content-Type field as it came (its value may hold a comma, so it is not
  // the joined entry of `headers` up to one), by which the body is read.
  std::string contentType;
};

// {path, method, headers, host, query, params, body} where body is normalizeData of
// the raw body by `contentType`, as eventFromRequest reads the first Content-Type field.
boost::json::object toJson(const HttpRequestData& data);

HttpRequestData httpRequestData(const net::Request& req, std::string_view path);

// The JSON text of toJson(httpRequestData(req, path)), written straight from the
// request: what rule 4 uses as event data and what the dispatcher hands to
// authorizers. `paramsAt`, when given, receives the offset of the params object ("{}").
std::string httpRequestText(const net::Request& req, std::string_view path,
                            std::size_t* paramsAt = nullptr);
// httpRequestText parsed.
boost::json::object httpRequestJson(const net::Request& req, std::string_view path);

// The query of a request target ("/a?x=1&x=2&y") as name -> values: percent-decoded,
// '+' read as space, a name without '=' has the value "", empty pairs are skipped and
// a malformed escape is kept literally.
std::map<std::string, std::vector<std::string>> parseQuery(std::string_view target);
// One name or value of a query, decoded as parseQuery decodes it, into `out` (replaced).
void decodeQueryComponent(std::string_view in, std::string& out);

// Calls fn(name, rawValue) for each pair of the query of `target`, in order: `name`
// decoded as decodeQueryComponent does (into a buffer the thread reuses), `rawValue` as
// written, for the caller to decode only when it needs it. Empty pairs are skipped.
template <class Fn>
void forEachRawQueryPair(std::string_view target, Fn&& fn) {
  const std::size_t q = target.find('?');
  if (q == std::string_view::npos) return;
  std::string_view query = target.substr(q + 1);
  query = query.substr(0, query.find('#'));
  thread_local std::string name;
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    if (pair.empty()) continue;
    const std::size_t eq = pair.find('=');
    decodeQueryComponent(pair.substr(0, eq), name);
    fn(static_cast<const std::string&>(name),
       eq == std::string_view::npos ? std::string_view{} : pair.substr(eq + 1));
  }
}

// What a body is, judged from its Content-Type (parameters and case ignored).
enum class BodyKind {
  kJson,    // application/json, */*+json
  kForm,    // application/x-www-form-urlencoded, multipart/form-data
  kOpaque,  // anything else, and no Content-Type at all
};
BodyKind bodyKind(std::string_view contentType);

// The `data` of a body, by its Content-Type: JSON types are parsed (the raw text is
// kept as a string when it does not parse), form types become a string, everything
// else (no Content-Type included) a base64 string. An empty body is null whatever
// its type.
boost::json::value normalizeData(std::string_view body, std::string_view contentType);

using eg::base64Encode;

struct IncomingEvent {
  enum Kind {
    kStructured,   // Content-Type: application/cloudevents+json
    kBinary,       // CE-* headers (0.1), ce-specversion and ce-* headers (1.0)
    kBatch,        // Content-Type: application/cloudevents-batch+json: `batch`
    kLegacy,       // Gen 1 `Event` header
    kHttpRequest,  // anything else: an `http.request` event
  };
  // kHttpRequest: only eventType and contentType; the whole event is `text`. The
  // other kinds: the whole event.
  CloudEvent event;
  Kind kind = kHttpRequest;
  // True when the gateway made the event up (gateway source, new ID and time, the
  // eventgateway extension); false when the client sent a CloudEvent.
  bool gatewayBuilt = false;
  // kHttpRequest: the event's JSON, written straight from the request, exactly as
  // serialize would write the CloudEvent it describes. Building that CloudEvent (its
  // strings, its data) and serializing it cost more than the request path can spare;
  // whoever needs the CloudEvent (authorizers) reads it back from the JSON.
  std::string text;
  // Where data.params is in `text`, and its length.
  std::size_t paramsAt = std::string::npos;
  std::size_t paramsSize = 2;
  // kBatch: the members, each checked; `event` is unused.
  std::vector<CloudEvent> batch;
};

// The event's JSON: `text` (taken: it is left empty), or the event serialized.
std::string takeEventJson(IncomingEvent& incoming);
// The eventID, from whichever holds it. Before takeEventJson.
std::string_view eventId(const IncomingEvent& incoming);

// Applies the rules of spec §3.1 in order:
//  0. Content-Type application/cloudevents-batch+json: a CloudEvents 1.0 batch, every
//     member checked by parseBatch (kInvalid naming the first bad member's index).
//  1. Content-Type application/cloudevents+json (parameters allowed): the body is a
//     structured CloudEvent, 1.0 or 0.1 by fromStructuredJson. Malformed JSON is
//     kInvalid `CloudEvent is not valid JSON: ...`; a failed check is kInvalid naming
//     the attribute.
//  1b. A ce-specversion header: CloudEvents 1.0 binary mode. Every ce-<name> header is
//     the attribute <name> (lower-cased, its value percent-decoded), Content-Type is
//     datacontenttype, checked by validateV1. The body is data: JSON types parsed,
//     text and form types as text, anything else (and a JSON body that does not parse,
//     or text that is not UTF-8) as bytes, data_base64.
//  2. CE-EventType, CE-CloudEventsVersion, CE-Source and CE-EventID all present and
//     non-empty (names case-insensitive): binary mode. CE-EventTypeVersion,
//     CE-EventTime (RFC 3339, else kInvalid), CE-SchemaURL are attributes,
//     CE-X-<Name> the extension <name> with its first letter lower-cased, the body
//     normalised by Content-Type is data and the Content-Type header is contentType.
//  3. A non-empty `Event` header: when the body has a JSON Content-Type and is a valid
//     CloudEvent (0.1, or 1.0 with its specversion), that CloudEvent is used as sent, its own eventType included (as the
//     Go gateway did); otherwise a gateway event of the header's type whose data is
//     the normalised body.
//  4. Otherwise a gateway `http.request` event whose data is httpRequestText with
//     empty params (see setPathParams), written with the event as `text`.
// Gateway-built events carry contentType = the request's Content-Type when it has one.
// `path` is the decoded request path without the query. Rejecting system event types
// sent from outside is the caller's job (isSystemEventType).
Result<IncomingEvent> eventFromRequest(const net::Request& req, std::string_view path);

// Sets data.params of an `http.request` event eventFromRequest built, replacing what
// was there; does nothing (and returns false) for other events.
bool setPathParams(IncomingEvent& incoming,
                   const std::vector<std::pair<std::string, std::string>>& params);

}  // namespace eg::events
