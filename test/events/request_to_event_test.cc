#include "events/request_to_event.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/json.h"
#include "events/gateway_event.h"

namespace eg::events {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;

using Headers = std::vector<std::pair<std::string, std::string>>;

net::Request makeRequest(http::verb method, std::string target, const Headers& headers,
                         std::string body = {}) {
  net::Request req{method, target, 11};
  for (const auto& [name, value] : headers) req.insert(name, value);
  req.body() = std::move(body);
  return req;
}

net::Request post(const Headers& headers, std::string body = {}) {
  return makeRequest(http::verb::post, "/hello", headers, std::move(body));
}

constexpr const char* kCloudEventBody =
    R"({"eventType":"user.created","cloudEventsVersion":"0.1","source":"/mysource",)"
    R"("eventID":"6f6ada3b-0aa2-4b3c-989a-91ffc6405f11","contentType":"text/plain","data":"test"})";

const Headers kBinaryHeaders = {{"CE-EventType", "myevent"},
                                {"CE-CloudEventsVersion", "0.1"},
                                {"CE-Source", "https://example.com"},
                                {"CE-EventID", "778d495b-a29e-48f9-a438-a26de1e33515"}};

Headers withHeaders(Headers base, const Headers& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

// The whole CloudEvent of `incoming`: `event`, or its JSON text read back.
CloudEvent cloudEvent(const IncomingEvent& incoming) {
  if (incoming.text.empty()) return incoming.event;
  auto event = fromJson(json::parse(incoming.text));
  EXPECT_TRUE(event.ok()) << event.error().message;
  return event ? *event : CloudEvent{};
}

void expectGatewayBuilt(const CloudEvent& e) {
  EXPECT_EQ(e.source, kGatewaySource);
  EXPECT_EQ(e.cloudEventsVersion, "0.1");
  EXPECT_EQ(e.eventID.size(), 36u);
  ASSERT_TRUE(e.eventTime);
  EXPECT_TRUE(isRfc3339(*e.eventTime));
  // Marked, or (read back from text) with the marker in extensions.
  EXPECT_EQ(allExtensions(e).size(), 1u);
  EXPECT_EQ(allExtensions(e).at("eventgateway"),
            (json::object{{"transformed", "true"}, {"transformation-version", "0.1"}}));
}

std::string invalidMessage(const net::Request& req) {
  auto r = eventFromRequest(req, "/hello");
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

// Rule 1: structured mode.

TEST(StructuredMode, ValidEventIsUsedAsSent) {
  auto r = eventFromRequest(post({{"Content-Type", "application/cloudevents+json"}}, kCloudEventBody),
                            "/hello");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, IncomingEvent::kStructured);
  EXPECT_FALSE(r->gatewayBuilt);
  EXPECT_EQ(r->event.eventType, "user.created");
  EXPECT_EQ(r->event.source, "/mysource");
  EXPECT_EQ(r->event.eventID, "6f6ada3b-0aa2-4b3c-989a-91ffc6405f11");
  EXPECT_EQ(r->event.contentType, "text/plain");
  EXPECT_EQ(r->event.data, "test");
  EXPECT_FALSE(r->event.eventTime);
  EXPECT_TRUE(r->event.extensions.empty());
}

TEST(StructuredMode, ContentTypeParametersAndCaseAreIgnored) {
  for (const char* ct : {"application/cloudevents+json; charset=utf-8",
                         "Application/CloudEvents+JSON", " application/cloudevents+json ;x=y"}) {
    auto r = eventFromRequest(post({{"Content-Type", ct}}, kCloudEventBody), "/hello");
    ASSERT_TRUE(r.ok()) << ct;
    EXPECT_EQ(r->kind, IncomingEvent::kStructured) << ct;
  }
}

TEST(StructuredMode, MalformedJson) {
  for (const char* body : {"{\"eventType\": ", "", "not json"}) {
    const std::string message =
        invalidMessage(post({{"Content-Type", "application/cloudevents+json"}}, body));
    EXPECT_EQ(message.rfind("CloudEvent is not valid JSON: ", 0), 0u) << message;
    EXPECT_GT(message.size(), std::string("CloudEvent is not valid JSON: ").size());
  }
}

TEST(StructuredMode, EachMissingAttributeIsNamed) {
  for (const char* name : {"eventType", "cloudEventsVersion", "source", "eventID"}) {
    json::object o = json::parse(kCloudEventBody).as_object();
    o.erase(name);
    EXPECT_EQ(invalidMessage(post({{"Content-Type", "application/cloudevents+json"}},
                                  json::serialize(o))),
              std::string("CloudEvent doesn't validate: attribute \"") + name + "\" is required.");
  }
}

TEST(StructuredMode, InvalidAttributes) {
  json::object o = json::parse(kCloudEventBody).as_object();
  o["eventTime"] = "tomorrow";
  EXPECT_EQ(invalidMessage(post({{"Content-Type", "application/cloudevents+json"}},
                                json::serialize(o))),
            "CloudEvent doesn't validate: attribute \"eventTime\" must be an RFC 3339 time.");
  EXPECT_EQ(invalidMessage(post({{"Content-Type", "application/cloudevents+json"}}, "[1]")),
            "CloudEvent doesn't validate: must be a JSON object.");
}

TEST(StructuredMode, WinsOverBinaryAndLegacyHeaders) {
  auto r = eventFromRequest(
      post(withHeaders(kBinaryHeaders,
                       {{"Content-Type", "application/cloudevents+json"}, {"Event", "legacy"}}),
           kCloudEventBody),
      "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, IncomingEvent::kStructured);
  EXPECT_EQ(r->event.eventType, "user.created");
}

// Rule 2: binary mode.

TEST(BinaryMode, AttributesFromHeaders) {
  auto r = eventFromRequest(
      post(withHeaders(kBinaryHeaders, {{"CE-EventTypeVersion", "0.1beta"},
                                        {"CE-EventTime", "2018-04-05T17:31:00.5+02:00"},
                                        {"CE-SchemaURL", "https://example.com/schema"},
                                        {"Content-Type", "application/json"}}),
           R"({"a":1})"),
      "/hello");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, IncomingEvent::kBinary);
  EXPECT_FALSE(r->gatewayBuilt);
  const CloudEvent& e = r->event;
  EXPECT_EQ(e.eventType, "myevent");
  EXPECT_EQ(e.cloudEventsVersion, "0.1");
  EXPECT_EQ(e.source, "https://example.com");
  EXPECT_EQ(e.eventID, "778d495b-a29e-48f9-a438-a26de1e33515");
  EXPECT_EQ(e.eventTypeVersion, "0.1beta");
  EXPECT_EQ(e.eventTime, "2018-04-05T17:31:00.5+02:00");
  EXPECT_EQ(e.schemaURL, "https://example.com/schema");
  EXPECT_EQ(e.contentType, "application/json");
  EXPECT_EQ(e.data, (json::object{{"a", 1}}));
  EXPECT_TRUE(e.extensions.empty());
}

TEST(BinaryMode, HeaderNamesAreCaseInsensitive) {
  auto r = eventFromRequest(post({{"ce-eventtype", "myevent"},
                                  {"CE-CLOUDEVENTSVERSION", "0.1"},
                                  {"ce-source", "/src"},
                                  {"Ce-EventId", "1"}},
                                 "hey there"),
                            "/hello");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, IncomingEvent::kBinary);
  EXPECT_EQ(r->event.eventType, "myevent");
  EXPECT_EQ(r->event.source, "/src");
  // No Content-Type: opaque body, no contentType attribute.
  EXPECT_FALSE(r->event.contentType);
  EXPECT_EQ(r->event.data, "aGV5IHRoZXJl");
}

TEST(BinaryMode, Extensions) {
  auto r = eventFromRequest(post(withHeaders(kBinaryHeaders, {{"CE-X-MyExt", "one"},
                                                              {"ce-x-lower", "two"},
                                                              {"CE-X-A", "three"},
                                                              {"CE-X-MyExt", "ignored"},
                                                              {"CE-X-", "empty name"},
                                                              {"X-Other", "not an extension"}})),
                            "/hello");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->event.extensions,
            (json::object{{"myExt", "one"}, {"lower", "two"}, {"a", "three"}}));
}

TEST(BinaryMode, DataIsNormalisedByContentType) {
  auto form = eventFromRequest(
      post(withHeaders(kBinaryHeaders, {{"Content-Type", "application/x-www-form-urlencoded"}}),
           "a=1&b=2"),
      "/hello");
  ASSERT_TRUE(form.ok());
  EXPECT_EQ(form->event.data, "a=1&b=2");
  auto text = eventFromRequest(
      post(withHeaders(kBinaryHeaders, {{"Content-Type", "text/plain"}}), "hey there"), "/hello");
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(text->event.data, "aGV5IHRoZXJl");
  EXPECT_EQ(text->event.contentType, "text/plain");
  auto empty = eventFromRequest(post(kBinaryHeaders), "/hello");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->event.data.is_null());
}

TEST(BinaryMode, InvalidTimeAndSource) {
  EXPECT_EQ(invalidMessage(post(withHeaders(kBinaryHeaders, {{"CE-EventTime", "2018-04-05"}}))),
            "CloudEvent doesn't validate: attribute \"eventTime\" must be an RFC 3339 time.");
  Headers badSource = kBinaryHeaders;
  badSource[2].second = "not a uri";
  EXPECT_EQ(invalidMessage(post(badSource)),
            "CloudEvent doesn't validate: attribute \"source\" must be a URI reference.");
}

TEST(BinaryMode, NeedsAllFourHeaders) {
  for (std::size_t skip = 0; skip < kBinaryHeaders.size(); ++skip) {
    Headers partial;
    for (std::size_t i = 0; i < kBinaryHeaders.size(); ++i) {
      if (i != skip) partial.push_back(kBinaryHeaders[i]);
    }
    auto r = eventFromRequest(post(partial), "/hello");
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->kind, IncomingEvent::kHttpRequest) << kBinaryHeaders[skip].first;

    Headers emptyValue = kBinaryHeaders;
    emptyValue[skip].second = "";
    auto e = eventFromRequest(post(emptyValue), "/hello");
    ASSERT_TRUE(e.ok());
    EXPECT_EQ(e->kind, IncomingEvent::kHttpRequest) << kBinaryHeaders[skip].first;
  }
}

TEST(BinaryMode, WinsOverLegacyHeader) {
  auto r = eventFromRequest(post(withHeaders(kBinaryHeaders, {{"Event", "legacy"}})), "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, IncomingEvent::kBinary);
  EXPECT_EQ(r->event.eventType, "myevent");
}

// Rule 3: legacy `Event` header.

TEST(LegacyMode, CloudEventBodyIsUsedAsSent) {
  auto r = eventFromRequest(
      post({{"Event", "myevent"}, {"Content-Type", "application/json; charset=utf-8"}},
           kCloudEventBody),
      "/hello");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, IncomingEvent::kLegacy);
  EXPECT_FALSE(r->gatewayBuilt);
  EXPECT_EQ(r->event.eventType, "user.created");
  EXPECT_EQ(r->event.source, "/mysource");
  EXPECT_EQ(r->event.eventID, "6f6ada3b-0aa2-4b3c-989a-91ffc6405f11");
  EXPECT_EQ(r->event.contentType, "text/plain");
  EXPECT_EQ(r->event.data, "test");
}

TEST(LegacyMode, PlainJsonBodyBecomesData) {
  auto r = eventFromRequest(
      post({{"Event", "user.created"}, {"Content-Type", "application/json"}}, R"({"name":"a"})"),
      "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, IncomingEvent::kLegacy);
  EXPECT_TRUE(r->gatewayBuilt);
  EXPECT_EQ(r->event.eventType, "user.created");
  EXPECT_EQ(r->event.contentType, "application/json");
  EXPECT_EQ(r->event.data, (json::object{{"name", "a"}}));
  expectGatewayBuilt(r->event);
}

TEST(LegacyMode, InvalidCloudEventBodyIsPlainData) {
  json::object body = json::parse(kCloudEventBody).as_object();
  body.erase("eventID");
  auto r = eventFromRequest(
      post({{"Event", "user.created"}, {"Content-Type", "application/json"}}, json::serialize(body)),
      "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->gatewayBuilt);
  EXPECT_EQ(r->event.eventType, "user.created");
  EXPECT_EQ(r->event.data, body);
}

TEST(LegacyMode, JsonThatDoesNotParseIsKeptRaw) {
  auto r = eventFromRequest(
      post({{"Event", "user.created"}, {"Content-Type", "application/json"}}, "{oops"), "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->event.data, "{oops");
}

TEST(LegacyMode, NonJsonBodyIsBase64) {
  auto r = eventFromRequest(post({{"Event", "myevent"}, {"Content-Type", "text/plain"}}, "hey there"),
                            "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->event.eventType, "myevent");
  EXPECT_EQ(r->event.data, "aGV5IHRoZXJl");
  EXPECT_EQ(r->event.contentType, "text/plain");
}

TEST(LegacyMode, NoContentTypeIsOpaqueEvenForJsonOrCloudEvents) {
  auto r = eventFromRequest(post({{"Event", "myevent"}}, kCloudEventBody), "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->gatewayBuilt);
  EXPECT_EQ(r->event.eventType, "myevent");
  EXPECT_FALSE(r->event.contentType);
  EXPECT_EQ(r->event.data, json::string(base64Encode(kCloudEventBody)));
}

TEST(LegacyMode, FormAndEmptyBodies) {
  auto form = eventFromRequest(
      post({{"Event", "e"}, {"Content-Type", "application/x-www-form-urlencoded"}}, "a=1"),
      "/hello");
  ASSERT_TRUE(form.ok());
  EXPECT_EQ(form->event.data, "a=1");
  auto empty = eventFromRequest(post({{"Event", "e"}, {"Content-Type", "application/json"}}),
                                "/hello");
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->event.data.is_null());
}

TEST(LegacyMode, HeaderNameIsCaseInsensitiveAndEmptyMeansAbsent) {
  auto lower = eventFromRequest(post({{"event", "myevent"}}), "/hello");
  ASSERT_TRUE(lower.ok());
  EXPECT_EQ(lower->kind, IncomingEvent::kLegacy);
  auto empty = eventFromRequest(post({{"Event", ""}}), "/hello");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->kind, IncomingEvent::kHttpRequest);
}

// Rule 4: http.request.

TEST(HttpRequestMode, DataDescribesTheRequest) {
  net::Request req = makeRequest(
      http::verb::put, "/users/a%20b?x=1&x=2&na%20me=v%2Bw+z&flag&&empty=", 
      {{"Host", "example.com:4000"},
       {"content-type", "application/json"},
       {"x-custom-header", "one"},
       {"X-Custom-Header", "two"},
       {"Accept", "*/*"}},
      R"({"k":[1,2]})");
  auto r = eventFromRequest(req, "/users/a b");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, IncomingEvent::kHttpRequest);
  EXPECT_TRUE(r->gatewayBuilt);
  // The event is written as text, with the attributes the dispatcher reads set too.
  EXPECT_EQ(r->event.eventType, "http.request");
  EXPECT_EQ(r->event.contentType, "application/json");
  const CloudEvent e = cloudEvent(*r);
  EXPECT_EQ(e.eventType, "http.request");
  EXPECT_EQ(e.contentType, "application/json");
  expectGatewayBuilt(e);
  EXPECT_EQ(eventId(*r), e.eventID);
  // The text is what serialize writes for that CloudEvent.
  EXPECT_EQ(serialize(e), r->text);

  const json::value value = e.data;
  const json::object& data = value.as_object();
  EXPECT_EQ(data.at("path"), "/users/a b");
  EXPECT_EQ(data.at("method"), "PUT");
  EXPECT_EQ(data.at("host"), "example.com:4000");
  EXPECT_EQ(data.at("headers"), (json::object{{"Content-Type", "application/json"},
                                              {"X-Custom-Header", "one, two"},
                                              {"Accept", "*/*"}}));
  EXPECT_EQ(data.at("query"), (json::object{{"x", json::array{"1", "2"}},
                                            {"na me", json::array{"v+w z"}},
                                            {"flag", json::array{""}},
                                            {"empty", json::array{""}}}));
  EXPECT_EQ(data.at("params"), json::object{});
  EXPECT_EQ(data.at("body"), (json::object{{"k", json::array{1, 2}}}));

  // Key order of the data object.
  std::vector<std::string> keys;
  for (const auto& kv : data) keys.emplace_back(kv.key());
  EXPECT_EQ(keys, (std::vector<std::string>{"path", "method", "headers", "host", "query",
                                            "params", "body"}));
}

TEST(HttpRequestMode, NoContentTypeAndNoBody) {
  auto r = eventFromRequest(makeRequest(http::verb::get, "/", {}), "/");
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->event.contentType);
  const CloudEvent e = cloudEvent(*r);
  EXPECT_FALSE(e.contentType);
  EXPECT_EQ(serialize(e), r->text);
  const json::value value = e.data;
  const json::object& data = value.as_object();
  EXPECT_EQ(data.at("method"), "GET");
  EXPECT_EQ(data.at("host"), "");
  EXPECT_EQ(data.at("headers"), json::object{});
  EXPECT_EQ(data.at("query"), json::object{});
  EXPECT_TRUE(data.at("body").is_null());
}

TEST(HttpRequestMode, OpaqueBodyIsBase64) {
  auto r = eventFromRequest(post({{"Content-Type", "application/octet-stream"}},
                                 std::string("\x00\xff\x10", 3)),
                            "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(cloudEvent(*r).data.at("body"), "AP8Q");
}

TEST(HttpRequestMode, StructAndDirectJsonAgree) {
  net::Request req = makeRequest(http::verb::post, "/p?a=1&a=%41&b",
                                 {{"Host", "h"},
                                  {"content-type", "application/x-www-form-urlencoded"},
                                  {"X-A", "1"},
                                  {"x-a", "2"}},
                                 "f=1");
  const HttpRequestData data = httpRequestData(req, "/p");
  EXPECT_EQ(data.path, "/p");
  EXPECT_EQ(data.method, "POST");
  EXPECT_EQ(data.host, "h");
  EXPECT_EQ(data.headers,
            (Headers{{"Content-Type", "application/x-www-form-urlencoded"}, {"X-A", "1, 2"}}));
  EXPECT_EQ(data.query.at("a"), (std::vector<std::string>{"1", "A"}));
  EXPECT_EQ(data.query.at("b"), (std::vector<std::string>{""}));
  EXPECT_TRUE(data.params.empty());
  EXPECT_EQ(data.body, "f=1");

  const json::object fromStruct = toJson(data);
  EXPECT_EQ(fromStruct, httpRequestJson(req, "/p"));
  EXPECT_EQ(fromStruct.at("body"), "f=1");

  HttpRequestData withParams = data;
  withParams.params["id"] = "7";
  EXPECT_EQ(toJson(withParams).at("params"), (json::object{{"id", "7"}}));
}

// Found by fuzz/request_to_event_fuzz.cc: with two Content-Type headers the event read
// the body by the first (as Go's Header.Get does) and toJson by both joined, so the two
// documented to agree did not.
TEST(HttpRequestMode, StructReadsTheBodyByTheFirstContentType) {
  for (const char* second : {"text/plain", "application/json"}) {
    net::Request req = post({{"Content-Type", "application/json; charset=utf-8"},
                             {"Content-Type", second}},
                            R"({"a":1})");
    const json::object fromStruct = toJson(httpRequestData(req, "/hello"));
    EXPECT_EQ(fromStruct, httpRequestJson(req, "/hello")) << second;
    EXPECT_EQ(fromStruct.at("body"), (json::object{{"a", 1}})) << second;
  }
  // One field whose value holds a comma is not two (found by fuzz/request_to_event):
  // not a JSON media type, so the body is opaque, base64 in both.
  net::Request req = post({{"Content-Type", "application/json,\"text/plain"}}, R"({"a":1})");
  const json::object fromStruct = toJson(httpRequestData(req, "/hello"));
  EXPECT_EQ(fromStruct, httpRequestJson(req, "/hello"));
  EXPECT_EQ(fromStruct.at("body"), "eyJhIjoxfQ==");
}

// Found by fuzz/request_to_event_fuzz.cc: a byte that is not UTF-8 (obs-text in a header
// value, %FF in the query, a form body) went into the event's JSON as it was, and no
// JSON reader accepts that text: functions got an event they could not read, and
// httpRequestJson threw. Such bytes are written as U+FFFD (as the Go gateway did).
TEST(HttpRequestMode, BytesThatAreNotUtf8ComeOutAsReplacementCharacters) {
  const std::string r = "\xef\xbf\xbd";
  net::Request req = makeRequest(http::verb::post, "/s?q=%FF&caf\xc3\xa9=1",
                                 {{"X-Latin1", "caf\xe9"},
                                  {"Content-Type", "application/x-www-form-urlencoded"}},
                                 "name=\xff");
  auto incoming = eventFromRequest(req, "/s/\xff");
  ASSERT_TRUE(incoming.ok());
  auto event = parseJson(takeEventJson(*incoming));
  ASSERT_TRUE(event) << event.error().message;
  const json::value& data = event->at("data");
  EXPECT_EQ(data.at("headers").at("X-Latin1").as_string(), "caf" + r);
  EXPECT_EQ(data.at("query").at("q"), json::array{json::string(r)});
  EXPECT_EQ(data.at("query").at("caf\xc3\xa9"), json::array{"1"});
  EXPECT_EQ(data.at("path").as_string(), "/s/" + r);
  EXPECT_EQ(data.at("body").as_string(), "name=" + r);
  EXPECT_EQ(httpRequestJson(req, "/s/\xff"), data.as_object());

  // Binary mode: attributes, extensions and data from the request alike.
  auto binary = eventFromRequest(
      post(withHeaders(kBinaryHeaders, {{"CE-X-Note", "\xff"}, {"Content-Type", "text/x"}}),
           "\xfe"),
      "/");
  ASSERT_TRUE(binary.ok());
  auto text = parseJson(takeEventJson(*binary));
  ASSERT_TRUE(text) << text.error().message;
  EXPECT_EQ(text->at("extensions").at("note").as_string(), r);
}

TEST(SetPathParams, FillsParamsOfHttpRequestEvents) {
  auto r = eventFromRequest(makeRequest(http::verb::get, "/users/7?q=}", {}), "/users/7");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(setPathParams(*r, {{"id", "7"}, {"group", "a }b\""}}));
  EXPECT_EQ(cloudEvent(*r).data.at("params"),
            (json::object{{"id", "7"}, {"group", "a }b\""}}));
  // Replacing keeps the rest of the event intact.
  EXPECT_TRUE(setPathParams(*r, {{"other", "1"}}));
  const CloudEvent e = cloudEvent(*r);
  const json::value data = e.data;
  EXPECT_EQ(data.at("params"), (json::object{{"other", "1"}}));
  EXPECT_EQ(data.at("query"), (json::object{{"q", json::array{"}"}}}));
  EXPECT_TRUE(data.at("body").is_null());
  EXPECT_EQ(e.eventType, "http.request");
  EXPECT_EQ(serialize(e), r->text);
  const std::string id(eventId(*r));
  EXPECT_EQ(takeEventJson(*r), serialize(e));
  EXPECT_TRUE(r->text.empty());
  EXPECT_EQ(id, e.eventID);

  IncomingEvent plain;
  plain.event.data = "x";
  EXPECT_FALSE(setPathParams(plain, {{"id", "1"}}));
  EXPECT_EQ(plain.event.data, "x");
  auto binary = eventFromRequest(
      makeRequest(http::verb::post, "/", {{"CE-EventType", "a"}, {"CE-CloudEventsVersion", "0.1"},
                                          {"CE-Source", "/s"}, {"CE-EventID", "1"}}),
      "/");
  ASSERT_TRUE(binary.ok());
  EXPECT_FALSE(setPathParams(*binary, {{"id", "1"}}));
  // Events the client sent are the CloudEvent itself, serialized on demand.
  EXPECT_TRUE(binary->text.empty());
  EXPECT_EQ(eventId(*binary), "1");
  EXPECT_EQ(serialize(cloudEvent(*binary)), serialize(binary->event));
  EXPECT_EQ(takeEventJson(*binary), serialize(binary->event));
}

// Helpers.

TEST(ParseQuery, EdgeCases) {
  using Query = std::map<std::string, std::vector<std::string>>;
  EXPECT_EQ(parseQuery("/a"), Query{});
  EXPECT_EQ(parseQuery("/a?"), Query{});
  EXPECT_EQ(parseQuery("/a?x=1#frag"), (Query{{"x", {"1"}}}));
  EXPECT_EQ(parseQuery("/a?x=a=b"), (Query{{"x", {"a=b"}}}));
  EXPECT_EQ(parseQuery("/a?x=%zz&y=%4&z=%41%42"),
            (Query{{"x", {"%zz"}}, {"y", {"%4"}}, {"z", {"AB"}}}));
  EXPECT_EQ(parseQuery("/a?%E2%82%AC=%e2%82%ac"), (Query{{"\xE2\x82\xAC", {"\xE2\x82\xAC"}}}));
  EXPECT_EQ(parseQuery("/a?=v"), (Query{{"", {"v"}}}));
  EXPECT_EQ(parseQuery("/a?b=2&a=1&b=3"), (Query{{"a", {"1"}}, {"b", {"2", "3"}}}));
}

TEST(BodyKind, Table) {
  EXPECT_EQ(bodyKind("application/json"), BodyKind::kJson);
  EXPECT_EQ(bodyKind("Application/JSON; charset=utf-8"), BodyKind::kJson);
  EXPECT_EQ(bodyKind("application/vnd.api+json"), BodyKind::kJson);
  EXPECT_EQ(bodyKind("application/cloudevents+json"), BodyKind::kJson);
  EXPECT_EQ(bodyKind("application/x-www-form-urlencoded"), BodyKind::kForm);
  EXPECT_EQ(bodyKind("multipart/form-data; boundary=X"), BodyKind::kForm);
  EXPECT_EQ(bodyKind("text/plain"), BodyKind::kOpaque);
  EXPECT_EQ(bodyKind("application/jsonx"), BodyKind::kOpaque);
  EXPECT_EQ(bodyKind("application/octet-stream"), BodyKind::kOpaque);
  EXPECT_EQ(bodyKind(""), BodyKind::kOpaque);
}

TEST(NormalizeData, Table) {
  const std::string multipart =
      "--X\r\nContent-Disposition: form-data; name=\"some\"\r\n\r\nthing\r\n--X--\r\n";
  struct Case {
    std::string body;
    std::string contentType;
    json::value expected;
  };
  const std::vector<Case> cases = {
      {R"({"hello": "world"})", "application/json", json::object{{"hello", "world"}}},
      {R"([1,2])", "application/json; charset=utf-8", json::array{1, 2}},
      {"42", "application/problem+json", 42},
      {"test", "application/json", "test"},
      {"some=thing", "application/x-www-form-urlencoded", "some=thing"},
      {multipart, "multipart/form-data; boundary=X", json::string(multipart)},
      {"some=thing", "application/octet-stream", "c29tZT10aGluZw=="},
      {"hello", "text/plain", "aGVsbG8="},
      {R"({"a":1})", "", "eyJhIjoxfQ=="},
      {"", "application/json", nullptr},
      {"", "text/plain", nullptr},
      {"", "", nullptr},
  };
  for (const auto& c : cases) {
    EXPECT_EQ(normalizeData(c.body, c.contentType), c.expected)
        << "body=" << c.body << " type=" << c.contentType;
  }
}

TEST(NormalizeData, DeeplyNestedJsonIsKeptRaw) {
  const std::string deep = std::string(1000, '[') + std::string(1000, ']');
  EXPECT_EQ(normalizeData(deep, "application/json"), json::string(deep));
}

}  // namespace
}  // namespace eg::events
