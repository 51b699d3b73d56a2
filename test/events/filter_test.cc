#include "events/filter.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/json.h"
#include "events/cloud_event_v1.h"

namespace eg::events {
namespace {

namespace json = boost::json;

CloudEvent v1(std::string_view text) {
  auto e = fromStructuredJson(json::parse(text));
  EXPECT_TRUE(e.ok()) << e.error().message;
  return e ? *e : CloudEvent{};
}

const CloudEvent kOrder = v1(
    R"({"specversion":"1.0","id":"o-17","source":"https://shop.example.com/eu","type":"com.example.order.created",)"
    R"("subject":"orders/17","time":"2026-12-05T10:00:00Z","datacontenttype":"application/json",)"
    R"("region":"eu-west","priority":5,"urgent":true,)"
    R"("data":{"total":42.5,"currency":"EUR","customer":{"tier":"gold","id":7},"items":[1,2]}})");

bool matches(std::string_view filters, const CloudEvent& event = kOrder) {
  auto f = Filter::compile(json::parse(filters));
  EXPECT_TRUE(f.ok()) << filters << ": " << f.error().message;
  return f && f->matches(event);
}

std::string errorOf(std::string_view filters) {
  auto f = Filter::compile(json::parse(filters));
  if (f) return "<ok>";
  EXPECT_EQ(f.error().kind, ErrorKind::kInvalid);
  return f.error().message;
}

TEST(Filter, EachDialect) {
  EXPECT_TRUE(matches(R"([{"exact":{"type":"com.example.order.created"}}])"));
  EXPECT_FALSE(matches(R"([{"exact":{"type":"com.example.order"}}])"));
  EXPECT_TRUE(matches(R"([{"prefix":{"type":"com.example."}}])"));
  EXPECT_FALSE(matches(R"([{"prefix":{"type":"org."}}])"));
  EXPECT_TRUE(matches(R"([{"suffix":{"type":".created"}}])"));
  EXPECT_FALSE(matches(R"([{"suffix":{"type":".deleted"}}])"));
  EXPECT_TRUE(matches(R"([{"prefix":{"type":""}}])"));  // the empty prefix: any value
  EXPECT_TRUE(matches(R"([{"not":{"exact":{"subject":"orders/18"}}}])"));
  EXPECT_FALSE(matches(R"([{"not":{"exact":{"subject":"orders/17"}}}])"));
  EXPECT_TRUE(matches(R"([{"all":[{"exact":{"region":"eu-west"}},{"prefix":{"source":"https://"}}]}])"));
  EXPECT_FALSE(matches(R"([{"all":[{"exact":{"region":"eu-west"}},{"prefix":{"source":"http://"}}]}])"));
  EXPECT_TRUE(matches(R"([{"any":[{"exact":{"region":"us"}},{"exact":{"region":"eu-west"}}]}])"));
  EXPECT_FALSE(matches(R"([{"any":[{"exact":{"region":"us"}},{"exact":{"region":"ap"}}]}])"));
  EXPECT_TRUE(matches(R"([{"all":[]}])"));
  EXPECT_FALSE(matches(R"([{"any":[]}])"));
  EXPECT_TRUE(matches("[]"));
}

TEST(Filter, EveryTopLevelExpressionMustMatch) {
  EXPECT_TRUE(matches(R"([{"exact":{"id":"o-17"}},{"suffix":{"source":"/eu"}}])"));
  EXPECT_FALSE(matches(R"([{"exact":{"id":"o-17"}},{"suffix":{"source":"/us"}}])"));
}

TEST(Filter, Combinations) {
  // Gold customers in the EU, or anything urgent, but never orders/18.
  constexpr std::string_view kRule =
      R"([{"any":[{"all":[{"exact":{"data.customer.tier":"gold"}},{"prefix":{"region":"eu"}}]},)"
      R"({"exact":{"urgent":"true"}}]},{"not":{"exact":{"subject":"orders/18"}}}])";
  EXPECT_TRUE(matches(kRule));
  const CloudEvent silver = v1(
      R"({"specversion":"1.0","id":"2","source":"/s","type":"t","region":"eu","data":{"customer":{"tier":"silver"}}})");
  EXPECT_FALSE(matches(kRule, silver));
  const CloudEvent urgent18 = v1(
      R"({"specversion":"1.0","id":"3","source":"/s","type":"t","subject":"orders/18","urgent":true})");
  EXPECT_FALSE(matches(kRule, urgent18));
  EXPECT_TRUE(matches(R"([{"not":{"not":{"exact":{"id":"o-17"}}}}])"));
}

TEST(Filter, ContextAttributesExtensionsAndScalars) {
  EXPECT_TRUE(matches(R"([{"exact":{"specversion":"1.0"}}])"));
  EXPECT_TRUE(matches(R"([{"exact":{"time":"2026-12-05T10:00:00Z"}}])"));
  EXPECT_TRUE(matches(R"([{"exact":{"datacontenttype":"application/json"}}])"));
  EXPECT_TRUE(matches(R"([{"exact":{"priority":"5"}}])"));  // numbers by their JSON text
  EXPECT_TRUE(matches(R"([{"exact":{"urgent":"true"}}])"));
  EXPECT_FALSE(matches(R"([{"exact":{"priority":"5.0"}}])"));
}

TEST(Filter, AMissingAttributeMatchesNothingButItsNegation) {
  EXPECT_FALSE(matches(R"([{"exact":{"dataschema":"x"}}])"));
  EXPECT_FALSE(matches(R"([{"prefix":{"missing":""}}])"));
  EXPECT_FALSE(matches(R"([{"suffix":{"data.nothing.here":""}}])"));
  EXPECT_TRUE(matches(R"([{"not":{"exact":{"missing":"x"}}}])"));
}

TEST(Filter, DataPaths) {
  EXPECT_TRUE(matches(R"([{"exact":{"data.currency":"EUR"}}])"));
  EXPECT_TRUE(matches(R"([{"exact":{"data.total":"42.5"}}])"));  // shortest form of a double
  EXPECT_TRUE(matches(R"([{"exact":{"data.customer.id":"7"}}])"));
  EXPECT_TRUE(matches(R"([{"prefix":{"data.customer.tier":"go"}}])"));
  // Objects, arrays and paths through scalars lead nowhere.
  EXPECT_FALSE(matches(R"([{"prefix":{"data.customer":""}}])"));
  EXPECT_FALSE(matches(R"([{"prefix":{"data.items":""}}])"));
  EXPECT_FALSE(matches(R"([{"prefix":{"data.currency.code":""}}])"));
  // A segment of digits indexes an array; past its end, or not a number, nothing.
  EXPECT_TRUE(matches(R"([{"exact":{"data.items.1":"2"}}])"));
  EXPECT_FALSE(matches(R"([{"exact":{"data.items.2":"2"}}])"));
  EXPECT_FALSE(matches(R"([{"exact":{"data.items.x":"2"}}])"));
  EXPECT_FALSE(matches(R"([{"exact":{"data.items.-1":"2"}}])"));
  // Bytes are not JSON data.
  const CloudEvent bytes = v1(R"({"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"eyJhIjoxfQ=="})");
  EXPECT_FALSE(matches(R"([{"prefix":{"data.a":""}}])", bytes));
}

TEST(Filter, A01EventIsMatchedThroughThe10Names) {
  auto old = fromStructuredJson(json::parse(
      R"({"eventType":"user.created","eventTypeVersion":"2","cloudEventsVersion":"0.1","source":"/users",)"
      R"("eventID":"u-1","eventTime":"2018-04-05T17:31:00Z","schemaURL":"https://x/s","contentType":"application/json",)"
      R"("extensions":{"region":"eu","subject":"users/1"},"data":{"name":"Ann"}})"));
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(matches(R"([{"exact":{"type":"user.created"}},{"exact":{"id":"u-1"}},{"exact":{"source":"/users"}},)"
                      R"({"exact":{"specversion":"0.1"}},{"exact":{"time":"2018-04-05T17:31:00Z"}},)"
                      R"({"exact":{"dataschema":"https://x/s"}},{"exact":{"datacontenttype":"application/json"}},)"
                      R"({"exact":{"region":"eu"}},{"exact":{"subject":"users/1"}},)"
                      R"({"exact":{"eventtypeversion":"2"}},{"exact":{"data.name":"Ann"}}])",
                      *old));
}

TEST(Filter, MalformedFiltersNameWhere) {
  EXPECT_EQ(errorOf(R"({"exact":{"type":"a"}})"), "filters: must be an array of expressions");
  EXPECT_EQ(errorOf(R"([{"exact":{"type":"a"},"prefix":{"type":"b"}}])"),
            R"(filters[0]: an expression is an object with one key: "exact", "prefix", "suffix", "all", "any" or "not")");
  EXPECT_EQ(errorOf(R"([{"exact":{"type":"a"}},{"like":{"type":"a"}}])"),
            R"(filters[1]: "like" is not a filter dialect: "exact", "prefix", "suffix", "all", "any" or "not")");
  EXPECT_EQ(errorOf(R"([{"all":[{"exact":{}}]}])"),
            R"(filters[0].all[0].exact: "exact" must hold exactly one attribute)");
  EXPECT_EQ(errorOf(R"([{"any":[{"exact":{"a":"1","b":"2"}}]}])"),
            R"(filters[0].any[0].exact: "exact" must hold exactly one attribute)");
  EXPECT_EQ(errorOf(R"([{"exact":{"type":5}}])"), "filters[0].exact.type: must be a string");
  EXPECT_EQ(errorOf(R"([{"all":{"exact":{"type":"a"}}}])"), "filters[0].all: must be an array of expressions");
  EXPECT_EQ(errorOf(R"([{"not":[]}])"),
            R"(filters[0].not: an expression is an object with one key: "exact", "prefix", "suffix", "all", "any" or "not")");
  EXPECT_EQ(errorOf(R"([{"exact":{"Bad-Name":"a"}}])"),
            R"(filters[0].exact: "Bad-Name" is not an attribute: a context attribute, an extension name ([a-z0-9]{1,20}) or data.<path>)");
  EXPECT_EQ(errorOf(R"([{"exact":{"data..x":"a"}}])"),
            R"(filters[0].exact: "data..x": a data path has no empty segment)");
  EXPECT_EQ(errorOf(R"([{"exact":{"data.":"a"}}])"),
            R"(filters[0].exact: "data.": a data path has no empty segment)");
}

TEST(Filter, Bounds) {
  std::string deep = R"({"exact":{"type":"a"}})";
  for (std::size_t i = 0; i < Filter::kMaxDepth; ++i) deep = R"({"not":)" + deep + "}";
  EXPECT_NE(errorOf("[" + deep + "]").find("nest more than 8 deep"), std::string::npos);
  std::string many = "[";
  for (std::size_t i = 0; i <= Filter::kMaxExpressions; ++i) {
    many += std::string(i ? "," : "") + R"({"exact":{"type":"a"}})";
  }
  many += "]";
  EXPECT_NE(errorOf(many).find("at most 64 expressions"), std::string::npos);
  EXPECT_NE(errorOf(R"([{"exact":{"type":")" + std::string(1025, 'x') + R"("}}])").find("at most 1024 bytes"),
            std::string::npos);
}

}  // namespace
}  // namespace eg::events
