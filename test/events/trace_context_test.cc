#include "events/trace_context.h"

#include <gtest/gtest.h>

#include "events/cloud_event_v1.h"

namespace eg::events {
namespace {

namespace json = boost::json;

constexpr std::string_view kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

TEST(TraceContext, TraceParentFollowsW3C) {
  EXPECT_TRUE(isValidTraceParent(kParent));
  EXPECT_TRUE(isValidTraceParent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
  // A later version may carry more fields after a '-'.
  EXPECT_TRUE(isValidTraceParent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz"));
  const std::string_view bad[] = {
      "",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",       // no flags
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",    // upper case
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",    // zero trace ID
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",    // zero parent ID
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // version ff
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x",  // 00 has no more fields
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",   // more without '-'
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // wrong separator
      "0g-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",    // not hex
  };
  for (const auto v : bad) EXPECT_FALSE(isValidTraceParent(v)) << v;
}

net::Request withHeaders(std::initializer_list<std::pair<std::string, std::string>> headers) {
  net::Request request{boost::beast::http::verb::post, "/", 11};
  for (const auto& [name, value] : headers) request.set(name, value);
  return request;
}

TEST(TraceContext, FromRequestTakesTraceStateOnlyWithAValidParent) {
  auto both = withHeaders({{"Traceparent", std::string(kParent)}, {"TraceState", "a=1,b=2"}});
  auto trace = traceFromRequest(both);
  EXPECT_EQ(trace.traceparent, kParent);
  EXPECT_EQ(trace.tracestate, "a=1,b=2");
  auto invalid = withHeaders({{"traceparent", "nonsense"}, {"tracestate", "a=1"}});
  EXPECT_TRUE(traceFromRequest(invalid).empty());
  EXPECT_TRUE(traceFromRequest(invalid).tracestate.empty());
  auto longState = withHeaders({{"traceparent", std::string(kParent)},
                                {"tracestate", std::string(kMaxTraceStateLength + 1, 'a')}});
  trace = traceFromRequest(longState);
  EXPECT_EQ(trace.traceparent, kParent);
  EXPECT_TRUE(trace.tracestate.empty());
  EXPECT_TRUE(traceFromRequest(withHeaders({})).empty());
}

TEST(TraceContext, AttachedTo10EventsAsExtensionsUnlessTheyHaveTheirOwn) {
  auto event = fromStructuredJson(
      json::parse(R"({"specversion":"1.0","id":"1","source":"/s","type":"t"})"));
  ASSERT_TRUE(event.ok());
  attachTrace(*event, TraceContext{kParent, "a=1"});
  EXPECT_EQ(event->extensions.at("traceparent").as_string(), kParent);
  EXPECT_EQ(event->extensions.at("tracestate"), "a=1");
  const auto written = json::parse(serialize(*event));
  EXPECT_EQ(written.at("traceparent").as_string(), kParent);

  auto own = fromStructuredJson(json::parse(
      R"({"specversion":"1.0","id":"1","source":"/s","type":"t","traceparent":"00-11111111111111111111111111111111-2222222222222222-01"})"));
  ASSERT_TRUE(own.ok());
  attachTrace(*own, TraceContext{kParent, "a=1"});
  EXPECT_EQ(own->extensions.at("traceparent"), "00-11111111111111111111111111111111-2222222222222222-01");
  EXPECT_FALSE(own->extensions.contains("tracestate"));

  auto old = fromStructuredJson(json::parse(
      R"({"cloudEventsVersion":"0.1","eventID":"1","source":"/s","eventType":"t"})"));
  ASSERT_TRUE(old.ok());
  attachTrace(*old, TraceContext{kParent, "a=1"});
  EXPECT_TRUE(old->extensions.empty());
}

}  // namespace
}  // namespace eg::events
