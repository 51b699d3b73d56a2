#include "events/event_attribute.h"

#include <gtest/gtest.h>

namespace eg::events {
namespace {

constexpr std::string_view kV10 =
    R"({"specversion":"1.0","id":"e-1","source":"/src","type":"user.created","subject":"u-7",)"
    R"("time":"2024-01-01T00:00:00Z","userid":"alice","tenant":42,"ratio":0.5,"beta":true,)"
    R"("data":{"x":1}})";
constexpr std::string_view kV01 =
    R"({"eventType":"user.created","eventTypeVersion":"2","cloudEventsVersion":"0.1",)"
    R"("source":"/src","eventID":"e-1","contentType":"application/json",)"
    R"("extensions":{"subject":"u-7","userid":"alice","nested":{"a":1}},"data":{"x":1}})";

TEST(EventAttributeTest, ContextAttributesOfA10Event) {
  EXPECT_EQ(attributeOf(kV10, "id"), "e-1");
  EXPECT_EQ(attributeOf(kV10, "source"), "/src");
  EXPECT_EQ(attributeOf(kV10, "type"), "user.created");
  EXPECT_EQ(attributeOf(kV10, "subject"), "u-7");
  EXPECT_EQ(attributeOf(kV10, "specversion"), "1.0");
  EXPECT_EQ(attributeOf(kV10, "dataschema"), std::nullopt);
}

TEST(EventAttributeTest, ExtensionsOfA10EventByTheirJsonText) {
  EXPECT_EQ(attributeOf(kV10, "userid"), "alice");
  EXPECT_EQ(attributeOf(kV10, "tenant"), "42");
  EXPECT_EQ(attributeOf(kV10, "ratio"), "0.5");
  EXPECT_EQ(attributeOf(kV10, "beta"), "true");
  EXPECT_EQ(attributeOf(kV10, "missing"), std::nullopt);
  EXPECT_EQ(attributeOf(kV10, "data"), std::nullopt);
}

TEST(EventAttributeTest, A01EventAnswersThroughThe10Names) {
  EXPECT_EQ(attributeOf(kV01, "id"), "e-1");
  EXPECT_EQ(attributeOf(kV01, "type"), "user.created");
  EXPECT_EQ(attributeOf(kV01, "source"), "/src");
  EXPECT_EQ(attributeOf(kV01, "datacontenttype"), "application/json");
  EXPECT_EQ(attributeOf(kV01, "specversion"), "0.1");
  EXPECT_EQ(attributeOf(kV01, "eventtypeversion"), "2");
  EXPECT_EQ(attributeOf(kV01, "subject"), "u-7");
  EXPECT_EQ(attributeOf(kV01, "userid"), "alice");
  EXPECT_EQ(attributeOf(kV01, "time"), std::nullopt);
  EXPECT_EQ(attributeOf(kV01, "nested"), std::nullopt);
  // 0.1 names are members, not attributes.
  EXPECT_EQ(attributeOf(kV01, "eventID"), std::nullopt);
}

TEST(EventAttributeTest, TextThatIsNotAnEventHasNoAttributes) {
  EXPECT_EQ(attributeOf("", "id"), std::nullopt);
  EXPECT_EQ(attributeOf("[1,2]", "id"), std::nullopt);
  EXPECT_EQ(attributeOf("{not json", "id"), std::nullopt);
}

}  // namespace
}  // namespace eg::events
