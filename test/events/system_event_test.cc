#include "events/system_event.h"

#include <gtest/gtest.h>

#include "events/gateway_event.h"

namespace eg::events {
namespace {

TEST(IsSystemEventType, Prefixes) {
  EXPECT_TRUE(isSystemEventType("eventgateway.event.received"));
  EXPECT_TRUE(isSystemEventType("eventgateway.anything"));
  EXPECT_TRUE(isSystemEventType("gateway.function.invoked"));
  EXPECT_TRUE(isSystemEventType("gateway."));
  EXPECT_FALSE(isSystemEventType("user.created"));
  EXPECT_FALSE(isSystemEventType("http.request"));
  EXPECT_FALSE(isSystemEventType("gateway"));
  EXPECT_FALSE(isSystemEventType("eventgateway"));
  EXPECT_FALSE(isSystemEventType("mygateway.x"));
  EXPECT_FALSE(isSystemEventType("Gateway.x"));
  EXPECT_FALSE(isSystemEventType(""));
}

TEST(Gen1SystemName, MapsPrefix) {
  EXPECT_EQ(gen1SystemName(kEventReceived), "gateway.event.received");
  EXPECT_EQ(gen1SystemName(kFunctionInvoking), "gateway.function.invoking");
  EXPECT_EQ(gen1SystemName(kFunctionInvoked), "gateway.function.invoked");
  EXPECT_EQ(gen1SystemName(kFunctionInvocationFailed), "gateway.function.invocationFailed");
  EXPECT_EQ(gen1SystemName("user.created"), "user.created");
  EXPECT_EQ(gen1SystemName("gateway.x"), "gateway.x");
}

TEST(SystemEvent, IsAGatewayEventWithData) {
  boost::json::object data{{"space", "default"}, {"functionId", "f1"}};
  const CloudEvent e = systemEvent(kFunctionInvoking, data);
  EXPECT_EQ(e.eventType, "eventgateway.function.invoking");
  EXPECT_EQ(e.source, kGatewaySource);
  EXPECT_EQ(e.contentType, "application/json");
  EXPECT_EQ(e.data, data);
  EXPECT_EQ(e.eventID.size(), 36u);
  ASSERT_TRUE(e.eventTime);
  EXPECT_TRUE(isRfc3339(*e.eventTime));
  EXPECT_TRUE(allExtensions(e).contains("eventgateway"));
  EXPECT_TRUE(isSystemEventType(e.eventType));
  const auto parsed = boost::json::parse(serialize(e));
  EXPECT_EQ(parsed.at("data").at("functionId"), "f1");
}

}  // namespace
}  // namespace eg::events
