#include "providers/http/http_provider.h"

#include <gtest/gtest.h>

#include "common/json.h"
#include "model/limits.h"

namespace eg::providers {
namespace {

using namespace std::chrono_literals;
namespace json = boost::json;

json::object obj(std::string_view text) { return json::parse(text).as_object(); }

std::string errorOf(std::string_view providerJson) {
  auto settings = parseHttpProvider(obj(providerJson));
  if (settings) return "<ok>";
  EXPECT_EQ(settings.error().kind, ErrorKind::kInvalid);
  return settings.error().message;
}

TEST(HttpProviderTest, MinimalProviderGetsDefaults) {
  auto settings = parseHttpProvider(obj(R"({"url":"http://127.0.0.1:8080/fn?x=1"})"));
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_FALSE(settings->url.tls);
  EXPECT_EQ(settings->url.host, "127.0.0.1");
  EXPECT_EQ(settings->url.port, 8080);
  EXPECT_EQ(settings->url.target, "/fn?x=1");
  EXPECT_TRUE(settings->headers.empty());
  EXPECT_EQ(settings->connectTimeout, 5000ms);
  EXPECT_EQ(settings->timeout, 30000ms);
}

TEST(HttpProviderTest, HttpsUrlIsAccepted) {
  auto settings = parseHttpProvider(obj(R"({"url":"https://example.com/api/fn"})"));
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_TRUE(settings->url.tls);
  EXPECT_EQ(settings->url.port, 443);
}

TEST(HttpProviderTest, UrlIsRequired) {
  EXPECT_EQ(errorOf(R"({})"), R"(Missing required field "url" in provider.)");
  EXPECT_EQ(errorOf(R"({"url":null})"), R"(Missing required field "url" in provider.)");
}

TEST(HttpProviderTest, UrlMustBeANonEmptyString) {
  EXPECT_EQ(errorOf(R"({"url":42})"), R"(Field "provider.url" must be a string.)");
  EXPECT_EQ(errorOf(R"({"url":["http://a/"]})"), R"(Field "provider.url" must be a string.)");
  EXPECT_EQ(errorOf(R"({"url":""})"), R"(Field "provider.url" must not be empty.)");
}

TEST(HttpProviderTest, UrlMustBeAbsoluteHttpOrHttps) {
  for (const char* url : {"ftp://example.com/x", "example.com/x", "/relative/path", "not a url",
                          "file:///etc/passwd", "ws://example.com/"}) {
    json::object provider{{"url", url}};
    auto settings = parseHttpProvider(provider);
    ASSERT_FALSE(settings) << url;
    EXPECT_EQ(settings.error().message, R"(Field "provider.url" must be an http or https URL.)")
        << url;
  }
}

TEST(HttpProviderTest, HeadersAreKeptInOrder) {
  auto settings = parseHttpProvider(obj(
      R"({"url":"http://a/","headers":{"x-functions-key":"k1","Authorization":"Bearer t"}})"));
  ASSERT_TRUE(settings) << settings.error().message;
  ASSERT_EQ(settings->headers.size(), 2u);
  EXPECT_EQ(settings->headers[0], (std::pair<std::string, std::string>{"x-functions-key", "k1"}));
  EXPECT_EQ(settings->headers[1],
            (std::pair<std::string, std::string>{"Authorization", "Bearer t"}));
}

TEST(HttpProviderTest, NullOrEmptyHeadersMeanNone) {
  for (const char* text : {R"({"url":"http://a/","headers":null})",
                           R"({"url":"http://a/","headers":{}})"}) {
    auto settings = parseHttpProvider(obj(text));
    ASSERT_TRUE(settings) << text;
    EXPECT_TRUE(settings->headers.empty());
  }
}

TEST(HttpProviderTest, HeadersMustBeAnObjectOfStrings) {
  EXPECT_EQ(errorOf(R"({"url":"http://a/","headers":"x: y"})"),
            R"(Field "provider.headers" must be an object of strings.)");
  EXPECT_EQ(errorOf(R"({"url":"http://a/","headers":[["x","y"]]})"),
            R"(Field "provider.headers" must be an object of strings.)");
  EXPECT_EQ(errorOf(R"({"url":"http://a/","headers":{"X-Count":3}})"),
            R"(Field "provider.headers.X-Count" must be a string.)");
  EXPECT_EQ(errorOf(R"({"url":"http://a/","headers":{"X-Obj":{"a":"b"}}})"),
            R"(Field "provider.headers.X-Obj" must be a string.)");
}

TEST(HttpProviderTest, HeaderNamesMustBeTokens) {
  for (const char* name : {"x y", "", "x:y", "x\ty", "caf\xc3\xa9", "a(b)", "x\r\ny"}) {
    json::object provider{{"url", "http://a/"}, {"headers", json::object{{name, "v"}}}};
    auto settings = parseHttpProvider(provider);
    ASSERT_FALSE(settings) << name;
    EXPECT_NE(settings.error().message.find("invalid header name"), std::string::npos);
  }
  auto settings = parseHttpProvider(obj(
      R"({"url":"http://a/","headers":{"X-Odd!#$%&'*+-.^_`|~9":"v"}})"));
  EXPECT_TRUE(settings);
}

TEST(HttpProviderTest, HeaderValuesMustNotSplitTheRequest) {
  for (const std::string& value :
       {std::string("secret\r\nX-Injected: 1"), std::string("secret\nx"), std::string("secret\rx"),
        std::string("secret\0x", 8)}) {
    json::object provider{{"url", "http://a/"},
                          {"headers", json::object{{"Authorization", value}}}};
    auto settings = parseHttpProvider(provider);
    ASSERT_FALSE(settings);
    EXPECT_EQ(settings.error().message,
              R"(Field "provider.headers.Authorization" must not contain CR, LF or NUL.)");
    EXPECT_EQ(settings.error().message.find("secret"), std::string::npos);
  }
}

TEST(HttpProviderTest, FramingHeadersAreRefused) {
  for (const char* name : {"Host", "content-length", "Transfer-Encoding", "CONNECTION",
                           "Keep-Alive", "Upgrade", "TE", "Trailer"}) {
    json::object provider{{"url", "http://a/"}, {"headers", json::object{{name, "v"}}}};
    auto settings = parseHttpProvider(provider);
    ASSERT_FALSE(settings) << name;
    EXPECT_EQ(settings.error().message, std::string(R"(Field "provider.headers" must not set ")") +
                                            name + R"(": the gateway sets it.)");
  }
}

TEST(HttpProviderTest, UrlAndHeadersAreBounded) {
  const auto url = [](std::size_t n) { return "http://a/" + std::string(n - 9, 'u'); };
  json::object provider{{"url", url(model::kMaxUrlLength)}};
  EXPECT_TRUE(parseHttpProvider(provider));
  provider["url"] = url(model::kMaxUrlLength + 1);
  EXPECT_EQ(parseHttpProvider(provider).error().message,
            R"(Field "provider.url" must be at most 4096 bytes long.)");

  json::object headers{{std::string(model::kMaxHeaderNameLength, 'N'), "v"},
                       {"X-Token", std::string(model::kMaxTokenLength, 't')}};
  while (headers.size() < model::kMaxHeaders) headers["X-" + std::to_string(headers.size())] = "v";
  provider = {{"url", "http://a/"}, {"headers", headers}};
  EXPECT_TRUE(parseHttpProvider(provider));
  headers["One-More"] = "v";
  provider["headers"] = headers;
  EXPECT_EQ(parseHttpProvider(provider).error().message,
            R"(Field "provider.headers" must have at most 64 entries.)");
  provider["headers"] = {{std::string(model::kMaxHeaderNameLength + 1, 'N'), "v"}};
  EXPECT_EQ(parseHttpProvider(provider).error().message,
            R"(Field "provider.headers" has a header name longer than 256 bytes.)");
  provider["headers"] = {{"X-Token", std::string(model::kMaxTokenLength + 1, 't')}};
  EXPECT_EQ(parseHttpProvider(provider).error().message,
            R"(Field "provider.headers.X-Token" must be at most 8192 bytes long.)");
}

TEST(HttpProviderTest, ContentTypeMayBeReplaced) {
  auto settings =
      parseHttpProvider(obj(R"({"url":"http://a/","headers":{"Content-Type":"application/json"}})"));
  EXPECT_TRUE(settings);
}

TEST(HttpProviderTest, EventVersionAndModeChooseTheFormat) {
  auto defaults = parseHttpProvider(obj(R"({"url":"http://a/"})"));
  ASSERT_TRUE(defaults);
  EXPECT_TRUE(defaults->asWritten());
  auto explicitDefaults = parseHttpProvider(
      obj(R"({"url":"http://a/","eventVersion":"as-received","eventMode":"structured"})"));
  ASSERT_TRUE(explicitDefaults);
  EXPECT_TRUE(explicitDefaults->asWritten());
  auto binary10 =
      parseHttpProvider(obj(R"({"url":"http://a/","eventVersion":"1.0","eventMode":"binary"})"));
  ASSERT_TRUE(binary10);
  EXPECT_EQ(binary10->eventVersion, events::EventVersion::k10);
  EXPECT_EQ(binary10->eventMode, events::EventMode::kBinary);
  EXPECT_FALSE(binary10->asWritten());
  auto v01 = parseHttpProvider(obj(R"({"url":"http://a/","eventVersion":"0.1"})"));
  ASSERT_TRUE(v01);
  EXPECT_EQ(v01->eventVersion, events::EventVersion::k01);

  EXPECT_EQ(errorOf(R"({"url":"http://a/","eventVersion":"0.3"})"),
            R"(Field "provider.eventVersion" must be "as-received", "0.1" or "1.0".)");
  EXPECT_EQ(errorOf(R"({"url":"http://a/","eventMode":"batch"})"),
            R"(Field "provider.eventMode" must be "structured" or "binary".)");
  EXPECT_NE(errorOf(R"({"url":"http://a/","eventMode":1})"), "<ok>");
}

TEST(HttpProviderTest, TimeoutsAreWholePositiveMilliseconds) {
  auto settings =
      parseHttpProvider(obj(R"({"url":"http://a/","connectTimeout":250,"timeout":1500.0})"));
  ASSERT_TRUE(settings) << settings.error().message;
  EXPECT_EQ(settings->connectTimeout, 250ms);
  EXPECT_EQ(settings->timeout, 1500ms);

  settings = parseHttpProvider(obj(R"({"url":"http://a/","connectTimeout":null,"timeout":null})"));
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->connectTimeout, 5000ms);
  EXPECT_EQ(settings->timeout, 30000ms);

  settings = parseHttpProvider(obj(R"({"url":"http://a/","timeout":3600000})"));
  ASSERT_TRUE(settings);
  EXPECT_EQ(settings->timeout, 3600000ms);

  for (const char* bad : {"0", "-1", "1.5", "\"100\"", "true", "3600001", "18446744073709551615",
                          "1e300", "[100]"}) {
    for (const char* field : {"connectTimeout", "timeout"}) {
      const std::string text =
          std::string(R"({"url":"http://a/",")") + field + "\":" + bad + "}";
      EXPECT_EQ(errorOf(text), std::string("Field \"provider.") + field +
                                   "\" must be a positive whole number of milliseconds, at most "
                                   "3600000.")
          << text;
    }
  }
}

TEST(HttpProviderTest, UnknownFieldsAreIgnored) {
  auto settings = parseHttpProvider(obj(R"({"url":"http://a/","extra":{"x":1}})"));
  EXPECT_TRUE(settings);
}

TEST(HttpProviderTest, LoggableUrlDropsTheQuery) {
  auto settings = parseHttpProvider(obj(R"({"url":"http://127.0.0.1:81/api/fn?code=s3cr3t"})"));
  ASSERT_TRUE(settings);
  EXPECT_EQ(loggableUrl(settings->url), "http://127.0.0.1:81/api/fn");
}

TEST(HttpProviderTest, FactoryValidatesAndMarksHeadersSecret) {
  net::HttpClient client;
  HttpProviderFactory factory(client);
  EXPECT_TRUE(factory.validate(obj(R"({"url":"http://a/"})")));
  const Status bad = factory.validate(obj(R"({"url":"gopher://a/"})"));
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().kind, ErrorKind::kInvalid);
  EXPECT_EQ(bad.error().message, R"(Field "provider.url" must be an http or https URL.)");
  EXPECT_TRUE(factory.isSecretField("headers"));
  EXPECT_FALSE(factory.isSecretField("url"));
  EXPECT_FALSE(factory.isSecretField("timeout"));
}

}  // namespace
}  // namespace eg::providers
