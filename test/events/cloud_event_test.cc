#include "events/cloud_event.h"
#include "events/gateway_event.h"

#include <string>

#include <gtest/gtest.h>

namespace eg::events {
namespace {

namespace json = boost::json;

json::object minimalObject() {
  return json::object{{"eventType", "user.created"},
                      {"cloudEventsVersion", "0.1"},
                      {"source", "/mysource"},
                      {"eventID", "6f6ada3b-0aa2-4b3c-989a-91ffc6405f11"}};
}

json::object fullObject() {
  json::object o = minimalObject();
  o["eventTypeVersion"] = "1.0";
  o["eventTime"] = "2018-04-05T17:31:00Z";
  o["schemaURL"] = "https://example.com/schema";
  o["contentType"] = "application/json";
  o["extensions"] = json::object{{"ext", "v"}};
  o["data"] = json::object{{"name", "alice"}};
  return o;
}

std::string errorOf(const json::value& v) {
  auto r = fromJson(v);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_EQ(r.error().kind, ErrorKind::kInvalid);
  return r.error().message;
}

TEST(CloudEventFromJson, AcceptsMinimalEvent) {
  auto r = fromJson(json::value(minimalObject()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->eventType, "user.created");
  EXPECT_EQ(r->cloudEventsVersion, "0.1");
  EXPECT_EQ(r->source, "/mysource");
  EXPECT_EQ(r->eventID, "6f6ada3b-0aa2-4b3c-989a-91ffc6405f11");
  EXPECT_FALSE(r->eventTypeVersion);
  EXPECT_FALSE(r->eventTime);
  EXPECT_FALSE(r->schemaURL);
  EXPECT_FALSE(r->contentType);
  EXPECT_TRUE(r->extensions.empty());
  EXPECT_TRUE(r->data.is_null());
}

TEST(CloudEventFromJson, ReadsEveryAttribute) {
  auto r = fromJson(json::value(fullObject()));
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->eventTypeVersion, "1.0");
  EXPECT_EQ(r->eventTime, "2018-04-05T17:31:00Z");
  EXPECT_EQ(r->schemaURL, "https://example.com/schema");
  EXPECT_EQ(r->contentType, "application/json");
  EXPECT_EQ(r->extensions, (json::object{{"ext", "v"}}));
  EXPECT_EQ(r->data, (json::object{{"name", "alice"}}));
}

TEST(CloudEventFromJson, DataMayBeAnyJson) {
  for (const json::value& data : {json::value(1), json::value("s"), json::value(json::array{1, 2}),
                                 json::value(true), json::value(nullptr)}) {
    json::object o = minimalObject();
    o["data"] = data;
    auto r = fromJson(json::value(o));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->data, data);
  }
}

TEST(CloudEventFromJson, EachMissingRequiredAttributeIsNamed) {
  for (const char* name : {"eventType", "cloudEventsVersion", "source", "eventID"}) {
    const std::string expected =
        std::string("CloudEvent doesn't validate: attribute \"") + name + "\" is required.";
    json::object missing = minimalObject();
    missing.erase(name);
    EXPECT_EQ(errorOf(missing), expected);
    json::object null = minimalObject();
    null[name] = nullptr;
    EXPECT_EQ(errorOf(null), expected);
    json::object empty = minimalObject();
    empty[name] = "";
    EXPECT_EQ(errorOf(empty), expected);
  }
}

TEST(CloudEventFromJson, NonStringAttributesAreNamed) {
  for (const char* name : {"eventType", "cloudEventsVersion", "source", "eventID",
                           "eventTypeVersion", "eventTime", "schemaURL", "contentType"}) {
    json::object o = minimalObject();
    o[name] = 42;
    EXPECT_EQ(errorOf(o), std::string("CloudEvent doesn't validate: attribute \"") + name +
                              "\" must be a string.");
  }
}

TEST(CloudEventFromJson, OptionalNullIsAbsent) {
  json::object o = minimalObject();
  o["eventTime"] = nullptr;
  o["extensions"] = nullptr;
  o["schemaURL"] = nullptr;
  auto r = fromJson(json::value(o));
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->eventTime);
  EXPECT_FALSE(r->schemaURL);
  EXPECT_TRUE(r->extensions.empty());
}

TEST(CloudEventFromJson, ExtensionsMustBeAnObject) {
  json::object o = minimalObject();
  o["extensions"] = "x";
  EXPECT_EQ(errorOf(o), "CloudEvent doesn't validate: attribute \"extensions\" must be an object.");
}

TEST(CloudEventFromJson, RejectsNonObjects) {
  for (const json::value& v : {json::value(nullptr), json::value(json::array{}), json::value("x")}) {
    EXPECT_EQ(errorOf(v), "CloudEvent doesn't validate: must be a JSON object.");
  }
}

TEST(CloudEventFromJson, SourceMustBeAUriReference) {
  for (const char* good : {"/mysource", "https://example.com/a?b=c#d", "urn:event:1", "relative",
                           "https://serverless.com/event-gateway/#transformationVersion=0.1"}) {
    json::object o = minimalObject();
    o["source"] = good;
    EXPECT_TRUE(fromJson(json::value(o)).ok()) << good;
  }
  for (const char* bad : {"has space", "http://[::1", "a\"b", "%zz"}) {
    json::object o = minimalObject();
    o["source"] = bad;
    EXPECT_EQ(errorOf(o), "CloudEvent doesn't validate: attribute \"source\" must be a URI reference.")
        << bad;
  }
}

TEST(CloudEventFromJson, EventTimeMustBeRfc3339) {
  json::object o = minimalObject();
  o["eventTime"] = "yesterday";
  EXPECT_EQ(errorOf(o), "CloudEvent doesn't validate: attribute \"eventTime\" must be an RFC 3339 time.");
}

TEST(CloudEventFromJson, IgnoresUnknownAttributes) {
  json::object o = minimalObject();
  o["specversion"] = "1.0";
  EXPECT_TRUE(fromJson(json::value(o)).ok());
}

TEST(CloudEventFromJson, RvalueMovesOnSuccessAndKeepsOnFailure) {
  json::value ok = fullObject();
  auto r = fromJson(std::move(ok));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->data, (json::object{{"name", "alice"}}));
  EXPECT_EQ(r->extensions, (json::object{{"ext", "v"}}));

  json::object bad = fullObject();
  bad.erase("eventID");
  json::value badValue = bad;
  EXPECT_FALSE(fromJson(std::move(badValue)).ok());
  EXPECT_EQ(badValue, json::value(bad));  // NOLINT(bugprone-use-after-move): documented
}

TEST(Rfc3339, Table) {
  for (const char* good :
       {"2018-04-05T17:31:00Z", "2018-04-05t17:31:00z", "2018-04-05T17:31:00.1Z",
        "2018-04-05T17:31:00.123456789Z", "2018-04-05T17:31:00+02:00", "2018-04-05T17:31:00-23:59",
        "2016-02-29T00:00:00Z", "2000-02-29T00:00:00Z", "2016-12-31T23:59:60Z"}) {
    EXPECT_TRUE(isRfc3339(good)) << good;
  }
  for (const char* bad :
       {"", "2018-04-05", "2018-04-05T17:31:00", "2018-04-05 17:31:00Z", "2018-4-05T17:31:00Z",
        "2018-13-05T17:31:00Z", "2018-00-05T17:31:00Z", "2018-04-31T17:31:00Z",
        "2017-02-29T00:00:00Z", "1900-02-29T00:00:00Z", "2018-04-05T24:00:00Z",
        "2018-04-05T17:60:00Z", "2018-04-05T17:31:61Z", "2018-04-05T17:31:00.Z",
        "2018-04-05T17:31:00+0200", "2018-04-05T17:31:00+24:00", "2018-04-05T17:31:00Zx",
        "2018-04-05T17:31:00+02:00x", "abcd-04-05T17:31:00Z"}) {
    EXPECT_FALSE(isRfc3339(bad)) << bad;
  }
}

TEST(CloudEventSerialize, MinimalOmitsOptionalAndKeepsNullData) {
  CloudEvent e;
  e.eventType = "user.created";
  e.source = "/s";
  e.eventID = "1";
  EXPECT_EQ(serialize(e),
            R"({"eventType":"user.created","cloudEventsVersion":"0.1","source":"/s","eventID":"1","data":null})");
}

TEST(CloudEventSerialize, AttributeOrder) {
  auto r = fromJson(json::value(fullObject()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(serialize(*r),
            R"({"eventType":"user.created","eventTypeVersion":"1.0","cloudEventsVersion":"0.1",)"
            R"("source":"/mysource","eventID":"6f6ada3b-0aa2-4b3c-989a-91ffc6405f11",)"
            R"("eventTime":"2018-04-05T17:31:00Z","schemaURL":"https://example.com/schema",)"
            R"("contentType":"application/json","extensions":{"ext":"v"},"data":{"name":"alice"}})");
}

TEST(CloudEventSerialize, EscapesStrings) {
  CloudEvent e;
  e.eventType = "a\"b\\c\n";
  e.source = "/s";
  e.eventID = "1";
  e.data = "\x01";
  const std::string text = serialize(e);
  EXPECT_NE(text.find(R"("eventType":"a\"b\\c\n")"), std::string::npos) << text;
  EXPECT_EQ(json::parse(text).at("data"), "\x01");
}

TEST(CloudEventSerialize, LargeDataIsWrittenWhole) {
  CloudEvent e;
  e.eventType = "t";
  e.source = "/s";
  e.eventID = "1";
  e.data = std::string(100000, 'x');
  const json::value parsed = json::parse(serialize(e));
  EXPECT_EQ(parsed.at("data").as_string().size(), 100000u);
}

TEST(CloudEventToJson, MatchesSerializeInOrder) {
  auto r = fromJson(json::value(fullObject()));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(json::serialize(toJson(*r)), serialize(*r));
  CloudEvent minimal;
  minimal.eventType = "t";
  minimal.source = "/s";
  minimal.eventID = "1";
  EXPECT_EQ(json::serialize(toJson(minimal)), serialize(minimal));
  EXPECT_FALSE(toJson(minimal).contains("extensions"));
  EXPECT_TRUE(toJson(minimal).at("data").is_null());
}

TEST(CloudEventFromJson, RoundTrip) {
  auto first = fromJson(json::value(fullObject()));
  ASSERT_TRUE(first.ok());
  auto second = fromJson(json::parse(serialize(*first)));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->eventType, first->eventType);
  EXPECT_EQ(second->eventTypeVersion, first->eventTypeVersion);
  EXPECT_EQ(second->cloudEventsVersion, first->cloudEventsVersion);
  EXPECT_EQ(second->source, first->source);
  EXPECT_EQ(second->eventID, first->eventID);
  EXPECT_EQ(second->eventTime, first->eventTime);
  EXPECT_EQ(second->schemaURL, first->schemaURL);
  EXPECT_EQ(second->contentType, first->contentType);
  EXPECT_EQ(second->extensions, first->extensions);
  EXPECT_EQ(second->data, first->data);
  EXPECT_EQ(serialize(*second), serialize(*first));
}

TEST(CloudEventValidate, ChecksBuiltEvents) {
  CloudEvent e;
  e.eventType = "t";
  e.source = "/s";
  e.eventID = "1";
  EXPECT_TRUE(validate(e).ok());
  CloudEvent noId = e;
  noId.eventID.clear();
  EXPECT_EQ(validate(noId).error().message,
            "CloudEvent doesn't validate: attribute \"eventID\" is required.");
  CloudEvent badTime = e;
  badTime.eventTime = "now";
  EXPECT_EQ(validate(badTime).error().message,
            "CloudEvent doesn't validate: attribute \"eventTime\" must be an RFC 3339 time.");
  CloudEvent badSource = e;
  badSource.source = "a b";
  EXPECT_EQ(validate(badSource).error().message,
            "CloudEvent doesn't validate: attribute \"source\" must be a URI reference.");
}

}  // namespace
}  // namespace eg::events

namespace eg::events {
namespace {

TEST(SerializeExtensions, TheGatewayMarkerAndEveryOtherFormComeOutAsTheyAre) {
  namespace json = boost::json;
  const json::object marker{{"transformed", "true"}, {"transformation-version", "0.1"}};
  CloudEvent e = gatewayEvent("a.b");
  auto extensionsOf = [](const CloudEvent& ev) {
    return json::parse(serialize(ev)).at("extensions");
  };
  ASSERT_TRUE(e.marked);
  EXPECT_EQ(extensionsOf(e), (json::object{{"eventgateway", marker}}));
  EXPECT_EQ(extensionsOf(e), json::value(allExtensions(e)));
  EXPECT_EQ(toJson(e).at("extensions"), json::value(allExtensions(e)));
  EXPECT_NE(serialize(e).find(
                R"("extensions":{"eventgateway":{"transformed":"true","transformation-version":"0.1"}})"),
            std::string::npos);

  // The marker next to another extension.
  e.extensions["other"] = 1;
  EXPECT_EQ(extensionsOf(e), (json::object{{"eventgateway", marker}, {"other", 1}}));
  EXPECT_EQ(toJson(e).at("extensions"), extensionsOf(e));

  // Unmarked, the marker is in `extensions`, where an authorization can join it.
  unmark(e);
  EXPECT_FALSE(e.marked);
  EXPECT_EQ(e.extensions, (json::object{{"eventgateway", marker}, {"other", 1}}));
  e.extensions["eventgateway"].as_object()["authorization"] = json::object{{"user", "u"}};
  EXPECT_EQ(extensionsOf(e), json::value(e.extensions));
  unmark(e);  // a second time changes nothing
  EXPECT_EQ(extensionsOf(e), json::value(e.extensions));

  // Same members in another order, another value, another extension.
  e.extensions = json::object{
      {"eventgateway", json::object{{"transformation-version", "0.1"}, {"transformed", "true"}}}};
  EXPECT_EQ(extensionsOf(e), json::value(e.extensions));
  e.extensions = json::object{
      {"eventgateway", json::object{{"transformed", "false"}, {"transformation-version", "0.1"}}}};
  EXPECT_EQ(extensionsOf(e), json::value(e.extensions));
  e.extensions = json::object{{"other", 1}};
  EXPECT_EQ(extensionsOf(e), json::value(e.extensions));
  e.extensions.clear();
  EXPECT_FALSE(json::parse(serialize(e)).as_object().contains("extensions"));
}

}  // namespace
}  // namespace eg::events
