#include "dispatch/sync_response.h"

#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>
#include <gtest/gtest.h>

namespace eg::dispatch {
namespace {

namespace http = boost::beast::http;

TEST(ParseFunctionResponse, FullObject) {
  auto r = parseFunctionResponse(
      R"({"statusCode":201,"headers":{"X-A":"1","Content-Type":"text/plain"},"body":"hi"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->statusCode, 201u);
  ASSERT_EQ(r->headers.size(), 2u);
  EXPECT_EQ(r->body, "hi");
}

TEST(ParseFunctionResponse, DefaultsAndNulls) {
  auto r = parseFunctionResponse(R"({"body":"x"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->statusCode, 200u);
  EXPECT_TRUE(r->headers.empty());

  r = parseFunctionResponse(R"({})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->statusCode, 200u);
  EXPECT_EQ(r->body, "");

  r = parseFunctionResponse(R"({"statusCode":null,"headers":null,"body":null,"other":[1]})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->statusCode, 200u);

  r = parseFunctionResponse("null");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->statusCode, 200u);
}

TEST(ParseFunctionResponse, MalformedCases) {
  for (const char* bad : {"", "not json", "[1,2]", "\"text\"", "42", R"({"statusCode":"200"})",
                          R"({"statusCode":200.5})", R"({"statusCode":99})",
                          R"({"statusCode":1000})", R"({"statusCode":-1})",
                          R"({"headers":[]})", R"({"headers":{"X":1}})",
                          R"({"headers":{"X":"a\r\nSet-Cookie: x"}})",
                          R"({"headers":{"Bad Name":"v"}})", R"({"body":{"a":1}})",
                          R"({"body":5})"}) {
    auto r = parseFunctionResponse(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.error().message, kMalformedResponse) << bad;
  }
}

// Every input reads as the JSON document says, whether or not it is the plain form
// the parser reads without building a document.
TEST(ParseFunctionResponse, ReadsEveryFormAsTheJsonSays) {
  namespace json = boost::json;
  const std::vector<std::string> inputs = {
      R"({"statusCode":200,"body":"ok"})",
      " {\n \"statusCode\" : 404 ,\t\"headers\" : { \"A\" : \"b\" , \"C-D\":\"e\" } , \"body\" : \"x y\" } ",
      R"({"body":"caf\u00e9","statusCode":201})",
      "{\"body\":\"caf\xc3\xa9\"}",
      R"({"body":"a\"b"})",
      R"({"statusCode":200,"statusCode":202})",
      R"({"headers":{"X":"a","X":"b"}})",
      R"({"headers":{}})",
      R"({"statusCode":999})",
      R"({"other":"x","body":"y"})",
  };
  for (const auto& in : inputs) {
    SCOPED_TRACE(in);
    const json::object doc = json::parse(in).as_object();
    auto r = parseFunctionResponse(in);
    ASSERT_TRUE(r.ok()) << r.error().message;
    const json::value* status = doc.if_contains("statusCode");
    EXPECT_EQ(r->statusCode, status ? json::value_to<unsigned>(*status) : 200u);
    const json::value* body = doc.if_contains("body");
    EXPECT_EQ(r->body, body ? std::string(body->as_string()) : std::string());
    std::vector<std::pair<std::string, std::string>> headers;
    if (const json::value* h = doc.if_contains("headers")) {
      for (const auto& [name, value] : h->as_object()) {
        headers.emplace_back(std::string(name), std::string(value.as_string()));
      }
    }
    EXPECT_EQ(r->headers, headers);
  }
  for (const char* bad : {R"({"statusCode":0200})", R"({"statusCode":200}x)",
                          R"({"statusCode":200,})", R"({"statusCode":199})",
                          R"({"statusCode":20000})", R"({"headers":{"X":"a
b: c"}})",
                          R"({"headers":{"B d":"v"}})", R"({"body":"x)",
                          R"({"statusCode":2e2})"}) {
    auto r = parseFunctionResponse(bad);
    EXPECT_FALSE(r.ok()) << bad;
  }
}

TEST(WriteFunctionResponse, StatusHeadersBodyAndSniffing) {
  net::Response res{http::status::ok, 11};
  writeFunctionResponse({404, {{"X-Thing", "v"}}, "<html><body>nope</body></html>"}, res);
  EXPECT_EQ(res.result_int(), 404u);
  EXPECT_EQ(res["X-Thing"], "v");
  EXPECT_EQ(res[http::field::content_type], "text/html; charset=utf-8");
  EXPECT_EQ(res.body(), "<html><body>nope</body></html>");
  // Framing is left to the server.
  EXPECT_TRUE(res[http::field::content_length].empty());

  net::Response plain{http::status::ok, 11};
  writeFunctionResponse({200, {}, "hello"}, plain);
  EXPECT_EQ(plain[http::field::content_type], "text/plain; charset=utf-8");

  net::Response typed{http::status::ok, 11};
  writeFunctionResponse({200, {{"content-type", "application/json"}}, "{}"}, typed);
  EXPECT_EQ(typed[http::field::content_type], "application/json");

  net::Response empty{http::status::ok, 11};
  writeFunctionResponse({200, {}, ""}, empty);
  EXPECT_TRUE(empty[http::field::content_type].empty());
}

TEST(WriteFunctionResponse, FramingHeadersAreIgnoredAndNoContentHasNoBody) {
  net::Response res{http::status::ok, 11};
  writeFunctionResponse({204, {{"Content-Length", "99"}, {"Transfer-Encoding", "chunked"}},
                         "ignored"},
                        res);
  EXPECT_EQ(res.result_int(), 204u);
  EXPECT_TRUE(res.body().empty());
  EXPECT_TRUE(res[http::field::transfer_encoding].empty());
  EXPECT_TRUE(res[http::field::content_length].empty());
}

TEST(SniffContentType, Kinds) {
  EXPECT_EQ(sniffContentType("just text"), "text/plain; charset=utf-8");
  EXPECT_EQ(sniffContentType("{\"a\":1}"), "text/plain; charset=utf-8");
  EXPECT_EQ(sniffContentType("  <!DOCTYPE html><html>"), "text/html; charset=utf-8");
  EXPECT_EQ(sniffContentType(std::string_view("\x00\x01\x02", 3)), "application/octet-stream");
}

}  // namespace
}  // namespace eg::dispatch
