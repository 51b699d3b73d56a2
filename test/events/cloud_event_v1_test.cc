#include "events/cloud_event_v1.h"

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "common/json.h"
#include "events/gateway_event.h"
#include "events/request_to_event.h"

namespace eg::events {
namespace {

namespace json = boost::json;
namespace http = boost::beast::http;

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr std::string_view kMinimal =
    R"({"specversion":"1.0","id":"A234-1234","source":"/mycontext","type":"com.example.someevent"})";

// kMinimal with `member` ("\"name\":value") added, or with `name` removed.
std::string withMember(std::string_view member) {
  std::string text(kMinimal);
  text.insert(text.size() - 1, std::string(",") + std::string(member));
  return text;
}

std::string without(std::string_view name) {
  json::object o = json::parse(kMinimal).as_object();
  o.erase(name);
  return json::serialize(o);
}

Result<CloudEvent> read(std::string_view text) {
  return fromStructuredJson(json::parse(text));
}

std::string messageOf(std::string_view text) {
  auto event = read(text);
  return event ? std::string("valid") : event.error().message;
}

TEST(CloudEventV1, MinimalEventReadsAndWritesBack) {
  auto event = read(kMinimal);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->specVersion, SpecVersion::k10);
  EXPECT_EQ(event->eventType, "com.example.someevent");
  EXPECT_EQ(event->eventID, "A234-1234");
  EXPECT_EQ(event->source, "/mycontext");
  EXPECT_TRUE(event->data.is_null());
  EXPECT_EQ(serialize(*event), kMinimal);
}

TEST(CloudEventV1, EveryAttributeReadsAndWritesBackInOrder) {
  constexpr std::string_view kFull =
      R"({"specversion":"1.0","id":"1","source":"https://example.com/src","type":"t",)"
      R"("datacontenttype":"application/json","dataschema":"https://example.com/s.json",)"
      R"("subject":"123","time":"2018-04-05T17:31:00Z","comexampleext":"v","num":5,)"
      R"("flag":true,"data":{"a":[1,2]}})";
  auto event = read(kFull);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->subject, "123");
  EXPECT_EQ(event->schemaURL, "https://example.com/s.json");
  EXPECT_EQ(event->contentType, "application/json");
  EXPECT_EQ(event->eventTime, "2018-04-05T17:31:00Z");
  EXPECT_EQ(event->extensions.at("num"), 5);
  EXPECT_EQ(event->extensions.at("flag"), true);
  EXPECT_EQ(serialize(*event), kFull);
}

struct Case {
  std::string text;
  std::string message;  // "valid", or the whole error message
};

std::string invalid(std::string_view attribute, std::string_view problem) {
  return "CloudEvent doesn't validate: attribute \"" + std::string(attribute) + "\" " +
         std::string(problem);
}

TEST(CloudEventV1, ValidationTable) {
  const std::vector<Case> cases = {
      // Required attributes: absent, null, empty, of the wrong type.
      {without("id"), invalid("id", "is required.")},
      {without("source"), invalid("source", "is required.")},
      {without("type"), invalid("type", "is required.")},
      {R"({"specversion":"1.0","id":"","source":"/s","type":"t"})", invalid("id", "is required.")},
      {R"({"specversion":"1.0","id":null,"source":"/s","type":"t"})", invalid("id", "is required.")},
      {R"({"specversion":"1.0","id":1,"source":"/s","type":"t"})", invalid("id", "must be a string.")},
      {R"({"specversion":"1.0","id":"1","source":"/s","type":""})", invalid("type", "is required.")},
      {R"({"specversion":"1.0","id":"1","source":"","type":"t"})", invalid("source", "is required.")},
      {R"({"specversion":"1.0","id":"1","source":"a b","type":"t"})",
       invalid("source", "must be a URI reference.")},
      // specversion.
      {R"({"specversion":"0.3","id":"1","source":"/s","type":"t"})",
       invalid("specversion", "must be \"1.0\".")},
      {R"({"specversion":1.0,"id":"1","source":"/s","type":"t"})",
       invalid("specversion", "must be \"1.0\".")},
      // time.
      {withMember(R"("time":"2018-04-05T17:31:00Z")"), "valid"},
      {withMember(R"("time":"2018-04-05T17:31:00.123+02:00")"), "valid"},
      {withMember(R"("time":"2018-04-05 17:31:00")"), invalid("time", "must be an RFC 3339 time.")},
      {withMember(R"("time":"2018-02-30T00:00:00Z")"), invalid("time", "must be an RFC 3339 time.")},
      {withMember(R"("time":1522949460)"), invalid("time", "must be a string.")},
      // Optional attributes.
      {withMember(R"("subject":"")"), invalid("subject", "must not be empty.")},
      {withMember(R"("subject":null)"), "valid"},
      {withMember(R"("dataschema":"/relative")"), invalid("dataschema", "must be an absolute URI.")},
      {withMember(R"("dataschema":"urn:example:schema")"), "valid"},
      {withMember(R"("datacontenttype":"json")"),
       invalid("datacontenttype", "must be a media type (RFC 2046).")},
      {withMember(R"("datacontenttype":"text/plain; charset=utf-8")"), "valid"},
      // Extensions: the name rule, and the value types.
      {withMember(R"("abcdefghij0123456789":"x")"), "valid"},
      {withMember(R"("abcdefghij01234567890":"x")"),
       invalid("abcdefghij01234567890", "is not a valid attribute name: [a-z0-9]{1,20}.")},
      {withMember(R"("myExt":"x")"), invalid("myExt", "is not a valid attribute name: [a-z0-9]{1,20}.")},
      {withMember(R"("my-ext":"x")"), invalid("my-ext", "is not a valid attribute name: [a-z0-9]{1,20}.")},
      {withMember(R"("ext":{"a":1})"), invalid("ext", "must be a string, a number or a boolean.")},
      {withMember(R"("ext":[1])"), invalid("ext", "must be a string, a number or a boolean.")},
      {withMember(R"("ext":null)"), "valid"},
      {withMember(R"("ext":1.5)"), "valid"},
      // data and data_base64.
      {withMember(R"("data":"text")"), "valid"},
      {withMember(R"("data_base64":"aGVsbG8=")"), "valid"},
      {withMember(R"("data":{"a":1},"data_base64":"aGVsbG8=")"),
       invalid("data_base64", "cannot be set together with \"data\".")},
      {withMember(R"("data":null,"data_base64":"aGVsbG8=")"), "valid"},
      {withMember(R"("data_base64":"not base64!")"), invalid("data_base64", "must be base64 text.")},
      {withMember(R"("data_base64":7)"), invalid("data_base64", "must be a string.")},
  };
  for (const auto& c : cases) EXPECT_EQ(messageOf(c.text), c.message) << c.text;
}

TEST(CloudEventV1, WithoutSpecversionItIsRead01) {
  auto event = read(R"({"eventType":"a","cloudEventsVersion":"0.1","source":"/s","eventID":"1"})");
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->specVersion, SpecVersion::k01);
  EXPECT_EQ(messageOf(R"({"id":"1","source":"/s","type":"t"})"),
            "CloudEvent doesn't validate: attribute \"eventType\" is required.");
}

TEST(CloudEventV1, DataBase64WritesBackAsDataBase64) {
  auto event = read(withMember(R"("data_base64":"AAEC")"));
  ASSERT_TRUE(event.ok());
  EXPECT_TRUE(event->dataBase64);
  EXPECT_EQ(event->data, "AAEC");
  EXPECT_EQ(serialize(*event), withMember(R"("data_base64":"AAEC")"));
}

TEST(CloudEventV1, BatchMembersAreAllCheckedAndNamedByIndex) {
  const std::string good(kMinimal);
  auto batch = parseBatch("[" + good + "," + withMember(R"("data":1)") + "]");
  ASSERT_TRUE(batch.ok()) << batch.error().message;
  ASSERT_EQ(batch->size(), 2u);
  EXPECT_EQ((*batch)[1].data, 1);

  EXPECT_TRUE(parseBatch("[]").ok());
  EXPECT_EQ(parseBatch("[" + good + "," + without("id") + "]").error().message,
            "CloudEvent batch member 1 doesn't validate: attribute \"id\" is required.");
  EXPECT_EQ(parseBatch("[" + good + ",3]").error().message,
            "CloudEvent batch member 1 doesn't validate: must be a JSON object.");
  // 0.1 events are not batch members.
  EXPECT_EQ(parseBatch(R"([{"eventType":"a","cloudEventsVersion":"0.1","source":"/s","eventID":"1"}])")
                .error()
                .message,
            "CloudEvent batch member 0 doesn't validate: attribute \"specversion\" is required.");
  EXPECT_EQ(parseBatch(good).error().message, "CloudEvent batch must be a JSON array.");
  EXPECT_EQ(parseBatch("[").error().kind, ErrorKind::kInvalid);
}

TEST(CloudEventV1, ConvertsTo01ByTheSpecsNames) {
  auto event = read(
      R"({"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"sub","time":"2018-04-05T17:31:00Z",)"
      R"("dataschema":"https://x/s","datacontenttype":"application/octet-stream","ext":"v","data_base64":"AAEC"})");
  ASSERT_TRUE(event.ok());
  convertTo(*event, SpecVersion::k01);
  EXPECT_EQ(json::parse(serialize(*event)),
            json::parse(R"({"eventType":"t","cloudEventsVersion":"0.1","source":"/s","eventID":"1",)"
                        R"("eventTime":"2018-04-05T17:31:00Z","schemaURL":"https://x/s",)"
                        R"("contentType":"application/octet-stream",)"
                        R"("extensions":{"ext":"v","subject":"sub"},"data":"AAEC"})"));
}

TEST(CloudEventV1, ConvertsFrom01AndSaysWhatItDrops) {
  auto event = read(
      R"({"eventType":"t","eventTypeVersion":"2","cloudEventsVersion":"0.1","source":"/s","eventID":"1",)"
      R"("extensions":{"ext":"v","Upper":"dropped","obj":{"a":1},"id":"dropped"},"data":{"k":1}})");
  ASSERT_TRUE(event.ok());
  convertTo(*event, SpecVersion::k10);
  EXPECT_EQ(serialize(*event),
            R"({"specversion":"1.0","id":"1","source":"/s","type":"t","eventtypeversion":"2",)"
            R"("ext":"v","obj":"{\"a\":1}","data":{"k":1}})");
  EXPECT_TRUE(validateV1(*event).ok());
}

TEST(CloudEventV1, GatewayBuiltEventsConvertWithTheirMarkerAsText) {
  CloudEvent event = gatewayEvent("user.created");
  event.contentType = "application/octet-stream";
  event.data = json::string(base64Encode("\x01\x02"));
  convertTo(event, SpecVersion::k10);
  EXPECT_TRUE(event.dataBase64);
  EXPECT_EQ(event.extensions.at("eventgateway"),
            R"({"transformed":"true","transformation-version":"0.1"})");
  EXPECT_TRUE(validateV1(event).ok());
  convertTo(event, SpecVersion::k01);
  EXPECT_FALSE(event.dataBase64);
  EXPECT_EQ(event.data, json::string(base64Encode("\x01\x02")));
}

// Binary mode, through eventFromRequest.
net::Request binary(const Headers& headers, std::string body = {}) {
  net::Request req{http::verb::post, "/hello", 11};
  for (const auto& [name, value] : headers) req.insert(name, value);
  req.body() = std::move(body);
  return req;
}

const Headers kBinary = {{"ce-specversion", "1.0"},
                         {"ce-id", "1"},
                         {"ce-source", "/s"},
                         {"ce-type", "com.example.t"}};

Headers plus(Headers base, const Headers& more) {
  base.insert(base.end(), more.begin(), more.end());
  return base;
}

TEST(CloudEventV1Binary, AttributesFromHeaders) {
  auto r = eventFromRequest(
      binary(plus(kBinary, {{"Content-Type", "application/json"},
                            {"CE-Subject", "sub%20ject"},
                            {"ce-time", "2018-04-05T17:31:00Z"},
                            {"ce-dataschema", "https://x/s"},
                            {"ce-traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
                            {"ce-ext", "%E2%82%AC%zz"}}),
             R"({"a":1})"),
      "/hello");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->kind, IncomingEvent::kBinary);
  const CloudEvent& e = r->event;
  EXPECT_EQ(e.specVersion, SpecVersion::k10);
  EXPECT_EQ(e.eventType, "com.example.t");
  EXPECT_EQ(e.subject, "sub ject");
  EXPECT_EQ(e.contentType, "application/json");
  EXPECT_EQ(e.extensions.at("ext"), "\xE2\x82\xAC%zz");
  EXPECT_EQ(e.extensions.at("traceparent"), "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
  EXPECT_EQ(e.data, json::parse(R"({"a":1})"));
  EXPECT_FALSE(e.dataBase64);
}

TEST(CloudEventV1Binary, DataByContentType) {
  struct DataCase {
    std::string contentType;
    std::string body;
    json::value data;
    bool base64;
  };
  const std::vector<DataCase> cases = {
      {"application/json", "[1,2]", json::parse("[1,2]"), false},
      {"application/json", "{not json", json::string(base64Encode("{not json")), true},
      {"text/plain", "hello", json::string("hello"), false},
      {"text/plain", "\xff", json::string(base64Encode("\xff")), true},
      {"application/xml", "<a/>", json::string("<a/>"), false},
      {"application/octet-stream", "\x01\x02", json::string(base64Encode("\x01\x02")), true},
      {"", "bytes", json::string(base64Encode("bytes")), true},
      {"application/json", "", nullptr, false},
  };
  for (const auto& c : cases) {
    Headers headers = kBinary;
    if (!c.contentType.empty()) headers.emplace_back("Content-Type", c.contentType);
    auto r = eventFromRequest(binary(headers, c.body), "/hello");
    ASSERT_TRUE(r.ok()) << c.contentType;
    EXPECT_EQ(r->event.data, c.data) << c.contentType << " " << c.body;
    EXPECT_EQ(r->event.dataBase64, c.base64) << c.contentType << " " << c.body;
  }
}

TEST(CloudEventV1Binary, ValidationNamesTheAttribute) {
  auto message = [](const Headers& headers) {
    auto r = eventFromRequest(binary(headers), "/hello");
    return r ? std::string("valid") : r.error().message;
  };
  EXPECT_EQ(message({{"ce-specversion", "1.0"}, {"ce-source", "/s"}, {"ce-type", "t"}}),
            invalid("id", "is required."));
  EXPECT_EQ(message(plus(kBinary, {{"ce-time", "yesterday"}})),
            invalid("time", "must be an RFC 3339 time."));
  EXPECT_EQ(message(plus(kBinary, {{"ce-my-ext", "x"}})),
            invalid("my-ext", "is not a valid attribute name: [a-z0-9]{1,20}."));
  EXPECT_EQ(message({{"ce-specversion", "0.3"}, {"ce-id", "1"}, {"ce-source", "/s"}, {"ce-type", "t"}}),
            invalid("specversion", "must be \"1.0\"."));
}

TEST(CloudEventV1Binary, WinsOver01BinaryAndLegacyHeaders) {
  auto r = eventFromRequest(
      binary(plus(kBinary, {{"CE-EventType", "old"}, {"CE-CloudEventsVersion", "0.1"},
                            {"CE-Source", "/old"}, {"CE-EventID", "9"}, {"Event", "legacy"}})),
      "/hello");
  ASSERT_TRUE(r.ok()) << r.error().message;
  // In 1.0 mode the 0.1 headers are extensions, and the first ce-source wins.
  EXPECT_EQ(r->event.specVersion, SpecVersion::k10);
  EXPECT_EQ(r->event.eventType, "com.example.t");
  EXPECT_EQ(r->event.source, "/s");
  EXPECT_EQ(r->event.extensions.at("eventtype"), "old");
}

TEST(CloudEventV1Structured, ThroughTheRequestRules) {
  auto r = eventFromRequest(
      binary({{"Content-Type", "application/cloudevents+json; charset=utf-8"}},
             withMember(R"("data":{"x":1})")),
      "/hello");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->kind, IncomingEvent::kStructured);
  EXPECT_EQ(r->event.specVersion, SpecVersion::k10);
  EXPECT_EQ(takeEventJson(*r), withMember(R"("data":{"x":1})"));

  auto batch = eventFromRequest(
      binary({{"Content-Type", "application/cloudevents-batch+json"}},
             "[" + std::string(kMinimal) + "]"),
      "/hello");
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ(batch->kind, IncomingEvent::kBatch);
  EXPECT_EQ(batch->batch.size(), 1u);

  // A legacy Event request whose body is a 1.0 event uses it as sent.
  auto legacy = eventFromRequest(
      binary({{"Event", "x"}, {"Content-Type", "application/json"}}, std::string(kMinimal)),
      "/hello");
  ASSERT_TRUE(legacy.ok());
  EXPECT_EQ(legacy->event.eventType, "com.example.someevent");
  EXPECT_FALSE(legacy->gatewayBuilt);
}

}  // namespace
}  // namespace eg::events
