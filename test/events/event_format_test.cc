#include "events/event_format.h"

#include <map>
#include <string>

#include <gtest/gtest.h>

#include "common/base64.h"
#include "common/json.h"

namespace eg::events {
namespace {

namespace json = boost::json;

constexpr std::string_view kV1 =
    R"({"specversion":"1.0","id":"1","source":"/s","type":"t","subject":"a b","time":"2018-04-05T17:31:00Z",)"
    R"("dataschema":"https://x/s","ext":"caf\u00e9 \"q\" 100%","num":5,"data":{"k":[1,2]}})";
constexpr std::string_view kV01 =
    R"({"eventType":"t","eventTypeVersion":"2","cloudEventsVersion":"0.1","source":"/s","eventID":"1",)"
    R"("eventTime":"2018-04-05T17:31:00Z","contentType":"application/json",)"
    R"("extensions":{"traceId":"abc","obj":{"a":1}},"data":{"k":1}})";

std::map<std::string, std::string> headersOf(const EventMessage& m) {
  std::map<std::string, std::string> out;
  for (const auto& [name, value] : m.headers) out.emplace(name, value);
  return out;
}

EventMessage format(std::string_view payload, EventVersion v, EventMode m) {
  auto r = formatEvent(payload, v, m);
  EXPECT_TRUE(r.ok()) << r.error().message;
  return r ? *r : EventMessage{};
}

TEST(FormatEvent, StructuredAsReceivedIsTheEventAsWritten) {
  auto m = format(kV1, EventVersion::kAsReceived, EventMode::kStructured);
  EXPECT_EQ(headersOf(m), (std::map<std::string, std::string>{
                              {"Content-Type", "application/cloudevents+json"}}));
  EXPECT_EQ(json::parse(m.body), json::parse(kV1));
}

TEST(FormatEvent, Binary10PutsAttributesInHeadersAndDataInTheBody) {
  auto m = format(kV1, EventVersion::kAsReceived, EventMode::kBinary);
  EXPECT_EQ(headersOf(m), (std::map<std::string, std::string>{
                              {"ce-specversion", "1.0"},
                              {"ce-id", "1"},
                              {"ce-source", "/s"},
                              {"ce-type", "t"},
                              {"ce-subject", "a%20b"},
                              {"ce-time", "2018-04-05T17:31:00Z"},
                              {"ce-dataschema", "https://x/s"},
                              {"ce-ext", "caf%C3%A9%20%22q%22%20100%25"},
                              {"ce-num", "5"},
                              {"Content-Type", "application/json"},
                          }));
  EXPECT_EQ(json::parse(m.body), json::parse(R"({"k":[1,2]})"));
}

TEST(FormatEvent, Binary10DataByItsKind) {
  auto body = [](std::string_view members) {
    const std::string payload =
        R"({"specversion":"1.0","id":"1","source":"/s","type":"t",)" + std::string(members) + "}";
    return format(payload, EventVersion::kAsReceived, EventMode::kBinary).body;
  };
  EXPECT_EQ(body(R"("data_base64":")" + base64Encode(std::string("\x00\xff", 2)) + R"(")"), std::string("\x00\xff", 2));
  EXPECT_EQ(body(R"("datacontenttype":"text/plain","data":"hi")"), "hi");
  EXPECT_EQ(body(R"("data":"hi")"), R"("hi")");  // no type: JSON, a JSON string
  EXPECT_EQ(body(R"("datacontenttype":"application/json","data":"hi")"), R"("hi")");
  EXPECT_EQ(body(R"("x":1)"), "");
}

TEST(FormatEvent, Binary01AndHeaderInjectionIsImpossible) {
  const std::string payload =
      R"({"eventType":"t","cloudEventsVersion":"0.1","source":"/s","eventID":"1\r\nX-Evil: 1",)"
      R"("contentType":"application/octet-stream","extensions":{"traceId":"a","bad name":"x"},)"
      R"("data":")" + base64Encode("\x01\x02") + R"("})";
  auto m = format(payload, EventVersion::kAsReceived, EventMode::kBinary);
  EXPECT_EQ(headersOf(m), (std::map<std::string, std::string>{
                              {"CE-EventType", "t"},
                              {"CE-CloudEventsVersion", "0.1"},
                              {"CE-Source", "/s"},
                              {"CE-EventID", "1%0D%0AX-Evil:%201"},
                              {"CE-X-TraceId", "a"},
                              {"Content-Type", "application/octet-stream"},
                          }));
  EXPECT_EQ(m.body, "\x01\x02");
}

TEST(FormatEvent, ConvertsBetweenVersions) {
  auto to10 = format(kV01, EventVersion::k10, EventMode::kStructured);
  EXPECT_EQ(json::parse(to10.body),
            json::parse(R"({"specversion":"1.0","id":"1","source":"/s","type":"t",)"
                        R"("datacontenttype":"application/json","time":"2018-04-05T17:31:00Z",)"
                        R"("eventtypeversion":"2","obj":"{\"a\":1}","data":{"k":1}})"));
  auto to01 = format(kV1, EventVersion::k01, EventMode::kStructured);
  EXPECT_EQ(json::parse(to01.body),
            json::parse(R"({"eventType":"t","cloudEventsVersion":"0.1","source":"/s","eventID":"1",)"
                        R"("eventTime":"2018-04-05T17:31:00Z","schemaURL":"https://x/s",)"
                        R"("extensions":{"ext":"caf\u00e9 \"q\" 100%","num":5,"subject":"a b"},)"
                        R"("data":{"k":[1,2]}})"));
  // 0.1 asked of a 0.1 event: as it was.
  EXPECT_EQ(json::parse(format(kV01, EventVersion::k01, EventMode::kStructured).body),
            json::parse(kV01));
}

TEST(FormatEvent, APayloadThatIsNoEventIsABug) {
  for (std::string_view bad : {"nope", "[]", R"({"specversion":"1.0"})"}) {
    auto r = formatEvent(bad, EventVersion::k10, EventMode::kBinary);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().kind, ErrorKind::kInternal);
  }
}

TEST(FormatEvent, A01EventConvertedTo10CarriesTheTraceContext) {
  constexpr std::string_view kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  auto r = formatEvent(kV01, EventVersion::k10, EventMode::kBinary, {kParent, "a=1"});
  ASSERT_TRUE(r.ok()) << r.error().message;
  const auto h = headersOf(*r);
  EXPECT_EQ(h.at("ce-traceparent"), kParent);
  EXPECT_EQ(h.at("ce-tracestate"), "a=1");
  // Kept 0.1, it is left as it arrived.
  auto old = formatEvent(kV01, EventVersion::k01, EventMode::kStructured, {kParent, "a=1"});
  ASSERT_TRUE(old.ok());
  EXPECT_EQ(old->body.find("traceparent"), std::string::npos);
}

}  // namespace
}  // namespace eg::events
