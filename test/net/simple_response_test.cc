#include "net/simple_response.h"

#include <string>
#include <vector>

#include <boost/beast/http.hpp>
#include <gtest/gtest.h>

#include "net/http_client.h"

namespace eg::net {
namespace {

namespace http = boost::beast::http;

constexpr std::size_t kMaxBody = 1024;
constexpr std::size_t kMaxHeader = 512;

struct Parsed {
  SimpleParse result;
  ClientResponse response;
  std::size_t consumed = 0;
  bool keepAlive = false;
};

Parsed parse(std::string_view in) {
  Parsed p;
  p.result = parseSimpleResponse(in, kMaxBody, kMaxHeader, p.response, p.consumed, p.keepAlive);
  return p;
}

// Whatever the fast parser accepts, Beast's parser must read the same way.
void expectSameAsBeast(std::string_view in, const Parsed& p) {
  http::response_parser<http::string_body> beast;
  beast.eager(true);
  boost::system::error_code ec;
  const std::size_t used = beast.put(boost::asio::buffer(in.data(), in.size()), ec);
  ASSERT_FALSE(ec) << ec.message();
  ASSERT_TRUE(beast.is_done());
  EXPECT_EQ(used, p.consumed);
  const auto& msg = beast.get();
  EXPECT_EQ(msg.result_int(), p.response.status);
  EXPECT_EQ(msg.body(), p.response.body);
  EXPECT_EQ(beast.keep_alive(), p.keepAlive);
  for (const auto& field : msg) {
    EXPECT_EQ(p.response.header(field.name_string()), msg[field.name_string()])
        << field.name_string();
  }
}

TEST(SimpleResponse, ReadsTheUsualResponseLikeBeast) {
  const std::vector<std::string> inputs = {
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Sat, 28 Nov 2026 09:00:00 GMT\r\n"
      "Content-Type: application/json\r\nContent-Length: 30\r\nConnection: keep-alive\r\n\r\n"
      "{\"statusCode\":200,\"body\":\"ok\"}",
      "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nConnection: Upgrade-Insecure, CLOSE\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.1 500 Internal Server Error\r\nX-A:   padded value \t\r\nContent-Length: 3\r\n\r\nerr",
      "HTTP/1.1 201 Created\r\nX-Empty:\r\nX-Utf8: caf\xc3\xa9\r\nContent-Length: 1\r\n\r\nx",
      // Long values and reasons (scanned sixteen bytes at a time), tabs and obs-text.
      "HTTP/1.1 299 A rather long reason phrase\tof many words\r\n"
      "X-Long: " + std::string(40, 'v') + "\t\xff\x80 end\r\nContent-Length: 1\r\n\r\nx",
      // Names: every token byte, long ones (letters, digits and '-' are skipped sixteen
      // at a time), and the framing names in any case.
      "HTTP/1.1 200 OK\r\nX_!#$%&'*+.^`|~9: v\r\ncontent-LENGTH: 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nX-" + std::string(37, 'n') + "-Name2: v\r\nX-" +
          std::string(20, 'n') + "_tail: w\r\nCONTENT-length: 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nCONNECTION: Close\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nContent-Lengtg: 5\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nConnectioN: close\r\nContent-Length: 2\r\n\r\nhi",
  };
  for (const auto& in : inputs) {
    SCOPED_TRACE(in);
    const Parsed p = parse(in);
    ASSERT_EQ(p.result, SimpleParse::kDone);
    EXPECT_EQ(p.consumed, in.size());
    expectSameAsBeast(in, p);
  }
}

// Found by fuzz/http_response_fuzz.cc: Beast reads Proxy-Connection as it reads
// Connection, and refuses a Connection value that is not a list of tokens; the fast
// path read neither, so it kept alive a connection the general parser would close, and
// accepted a response the general parser refuses.
TEST(SimpleResponse, ReadsConnectionFieldsAsBeastDoes) {
  const std::vector<std::string> same = {
      "HTTP/1.1 200 OK\r\nProxy-Connection: close\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.0 200 OK\r\nproxy-connection: Keep-Alive\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nConnection: ,, keep-alive ,\tclose,\r\nContent-Length: 2\r\n\r\nhi",
  };
  for (const auto& in : same) {
    SCOPED_TRACE(in);
    const Parsed p = parse(in);
    ASSERT_EQ(p.result, SimpleParse::kDone);
    expectSameAsBeast(in, p);
  }
  EXPECT_FALSE(parse(same[0]).keepAlive);
  EXPECT_TRUE(parse(same[1]).keepAlive);
  const std::vector<std::string> refused = {
      "HTTP/1.1 200 OK\r\nConnection: keep alive\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nProxy-Connection: a;b\r\nContent-Length: 0\r\n\r\n",
  };
  for (const auto& in : refused) {
    SCOPED_TRACE(in);
    EXPECT_EQ(parse(in).result, SimpleParse::kNotSimple);
    http::response_parser<http::string_body> beast;
    boost::system::error_code ec;
    beast.put(boost::asio::buffer(in.data(), in.size()), ec);
    EXPECT_EQ(ec, http::error::bad_value);
  }
}

TEST(SimpleResponse, StopsAtTheEndOfTheFirstResponse) {
  const std::string first = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
  const Parsed p = parse(first + "HTTP/1.1 200 OK\r\n");
  ASSERT_EQ(p.result, SimpleParse::kDone);
  EXPECT_EQ(p.consumed, first.size());
  EXPECT_EQ(p.response.body, "hi");
}

TEST(SimpleResponse, WaitsForTheRest) {
  EXPECT_EQ(parse("").result, SimpleParse::kNeedMore);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Len").result, SimpleParse::kNeedMore);
  EXPECT_EQ(parse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab").result,
            SimpleParse::kNeedMore);
}

TEST(SimpleResponse, LeavesEverythingElseToTheGeneralParser) {
  const std::vector<std::string> inputs = {
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n\r\nuntil the connection closes",
      "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n",
      "HTTP/1.1 101 Switching Protocols\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi",
      "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Bad: a\x01z\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Bad: " + std::string(21, 'a') + "\x7f" + std::string(20, 'b') +
          "\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Bad: " + std::string(33, 'a') + std::string(1, '\0') + std::string(3, 'b') +
          "\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Bad: " + std::string(17, 'a') + "\nX-Injected: 1" +
          "\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nBad Name: v\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-" + std::string(20, 'n') + "\xe9: v\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-" + std::string(20, 'n') + "\"q: v\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nTRANSFER-encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
      "HTTP/1.1 200 OK\r\n: v\r\nContent-Length: 0\r\n\r\n",
      "HTTP/2.0 200 OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 20x OK\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",  // above kMaxBody
      "HTTP/1.1 200 OK\r\nX-Long: " + std::string(600, 'a') + "\r\nContent-Length: 0\r\n\r\n",
      "HTTP/1.1 200 OK\r\nX-Long: " + std::string(600, 'a'),  // no end in sight
  };
  for (const auto& in : inputs) {
    SCOPED_TRACE(in);
    ClientResponse untouched;
    std::size_t consumed = 0;
    bool keepAlive = false;
    EXPECT_EQ(parseSimpleResponse(in, kMaxBody, kMaxHeader, untouched, consumed, keepAlive),
              SimpleParse::kNotSimple);
    EXPECT_EQ(untouched.status, 0u);
    EXPECT_TRUE(untouched.body.empty());
    EXPECT_TRUE(untouched.header("Content-Length").empty());
  }
}

}  // namespace
}  // namespace eg::net
