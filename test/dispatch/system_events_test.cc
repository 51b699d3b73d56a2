#include "dispatch/system_events.h"

#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "events/cloud_event.h"

namespace eg::dispatch {
namespace {

namespace json = boost::json;

TEST(SystemEventType, BothGenerations) {
  EXPECT_EQ(systemEventType(SystemEvent::kEventReceived, false), "eventgateway.event.received");
  EXPECT_EQ(systemEventType(SystemEvent::kEventReceived, true), "gateway.event.received");
  EXPECT_EQ(systemEventType(SystemEvent::kFunctionInvoking, true),
            "gateway.function.invoking");
  EXPECT_EQ(systemEventType(SystemEvent::kFunctionInvoked, false),
            "eventgateway.function.invoked");
  EXPECT_EQ(systemEventType(SystemEvent::kFunctionInvocationFailed, true),
            "gateway.function.invocationFailed");
}

TEST(SystemEventData, Shapes) {
  const std::string event = R"({"eventType":"user.created","data":{"a":1}})";
  auto received = json::parse(eventReceivedData(event, "/p\"q", R"({"X-A":"1"})"));
  EXPECT_EQ(received.at("event").at("eventType"), "user.created");
  EXPECT_EQ(received.at("path"), "/p\"q");
  EXPECT_EQ(received.at("headers").at("X-A"), "1");

  auto invoking = json::parse(functionInvokingData("sp", event, "fn"));
  EXPECT_EQ(invoking.at("space"), "sp");
  EXPECT_EQ(invoking.at("functionId"), "fn");
  EXPECT_EQ(invoking.at("event").at("data").at("a"), 1);

  auto invoked = json::parse(functionInvokedData("sp", event, "fn", "{\"ok\":true}"));
  EXPECT_EQ(invoked.at("result"), "{\"ok\":true}");

  auto binary = json::parse(functionInvokedData("sp", event, "fn", std::string("\xff\x00", 2)));
  EXPECT_EQ(binary.at("result"), "/wA=");

  auto failed = json::parse(functionInvocationFailedData("sp", event, "fn", "timeout"));
  EXPECT_EQ(failed.at("error").at("message"), "timeout");
}

TEST(SystemEventJson, IsAValidGatewayCloudEvent) {
  const auto text = systemEventJson("gateway.function.invoked", R"({"space":"s"})");
  auto value = json::parse(text);
  auto event = events::fromJson(value);
  ASSERT_TRUE(event.ok()) << event.error().message;
  EXPECT_EQ(event->eventType, "gateway.function.invoked");
  EXPECT_EQ(event->contentType.value_or(""), "application/json");
  EXPECT_EQ(event->data.at("space"), "s");
  EXPECT_EQ(event->extensions.at("eventgateway").at("transformed"), "true");
  EXPECT_FALSE(event->eventID.empty());
}

TEST(IsValidUtf8, Cases) {
  EXPECT_TRUE(isValidUtf8("plain"));
  EXPECT_TRUE(isValidUtf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(isValidUtf8("\xc3"));
  EXPECT_FALSE(isValidUtf8("\xc0\xaf"));          // overlong
  EXPECT_FALSE(isValidUtf8("\xed\xa0\x80"));      // surrogate
  EXPECT_FALSE(isValidUtf8("\xff"));
}

}  // namespace
}  // namespace eg::dispatch
