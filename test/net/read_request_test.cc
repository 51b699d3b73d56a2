#include "net/read_request.h"

#include <limits>
#include <optional>
#include <string>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_to_string.hpp>
#include <gtest/gtest.h>

namespace eg::net {
namespace {

namespace asio = boost::asio;
using Socket = asio::local::stream_protocol::socket;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct Read {
  boost::system::error_code ec;
  Request req;
  std::string left;  // what stayed in the buffer after the request
  std::size_t maxSize = 0;
};

// Reads one request at one end of a connection, as the server does, while the other
// end sends `bytes` and closes.
Read readOne(const std::string& bytes, ServerSettings settings = {}) {
  asio::io_context ctx;
  Socket client(ctx);
  Socket server(ctx);
  asio::local::connect_pair(client, server);
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        co_await asio::async_write(client, asio::buffer(bytes), kTuple);
        boost::system::error_code ignored;
        client.shutdown(Socket::shutdown_send, ignored);
      },
      asio::detached);
  Read r;
  asio::co_spawn(
      ctx,
      [&]() -> asio::awaitable<void> {
        boost::beast::flat_buffer buffer;
        auto [ec, n] = co_await server.async_read_some(buffer.prepare(4096), kTuple);
        buffer.commit(n);
        std::optional<RequestParser> parser;
        r.ec = co_await readRequest(server, buffer, parser, settings);
        if (!r.ec) r.req = parser->release();
        r.left = boost::beast::buffers_to_string(buffer.data());
        r.maxSize = buffer.max_size();
        server.close();  // the client's write ends, whatever it had left
      },
      asio::detached);
  ctx.run();
  return r;
}

TEST(ReadRequest, ReadsARequestAndLeavesWhatFollows) {
  const Read r = readOne("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhiGET /b");
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.req.target(), "/a");
  EXPECT_EQ(r.req.body(), "hi");
  EXPECT_EQ(r.left, "GET /b");
}

// Found by fuzz/http_request_fuzz.cc: Beast's request parser adds a chunked body's
// trailer fields to the header, where handlers took them for headers the client sent
// (RFC 9110 section 6.5.1 forbids merging them), beyond the head's limit.
TEST(ReadRequest, DropsTrailerFields) {
  const Read r = readOne(
      "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
      "2\r\nhi\r\n0\r\nAuthorization: Bearer t\r\nHost: other\r\n\r\n");
  ASSERT_FALSE(r.ec) << r.ec.message();
  const Request& req = r.req;
  EXPECT_EQ(req.body(), "hi");
  EXPECT_EQ(req.find(http::field::authorization), req.end());
  EXPECT_EQ(req.count(http::field::host), 1u);
  EXPECT_EQ(req[http::field::host], "h");
  EXPECT_EQ(req[http::field::transfer_encoding], "chunked");
}

// Found by fuzz/http_request_fuzz.cc: Beast reads a request whose Transfer-Encoding
// does not end in chunked as one without a body, so the body was read as the next
// request (request smuggling behind a proxy that frames it otherwise).
TEST(ReadRequest, RefusesTransferCodingsThatCannotBeFramed) {
  for (const char* coding : {"gzip", "chunked, gzip", "identity"}) {
    const Read r = readOne(std::string("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: ") +
                           coding + "\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: h\r\n\r\n");
    EXPECT_EQ(r.ec, http::error::bad_transfer_encoding) << coding;
  }
}

// Beast keeps a chunk header line or a trailer section in the buffer until its end
// arrives, with no limit of its own: the server's head limit (and one read) bounds it.
TEST(ReadRequest, BoundsWhatAChunkedBodyLeavesUnparsed) {
  ServerSettings settings;
  settings.headerLimit = 1024;
  const std::string head = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";
  const std::string big(settings.headerLimit + 64 * 1024 + 1, 'a');
  for (const std::string& body : {"2;x=" + big + "\r\nhi\r\n0\r\n\r\n",
                                  "2\r\nhi\r\n0\r\nX-Big: " + big + "\r\n\r\n"}) {
    const Read r = readOne(head + body, settings);
    EXPECT_EQ(r.ec, http::error::header_limit);
    EXPECT_EQ(r.maxSize, std::numeric_limits<std::size_t>::max());
  }
  // Up to the bound, a large trailer section is read (and dropped).
  const Read r = readOne(head + "2\r\nhi\r\n0\r\nX-Big: " + std::string(2048, 'a') + "\r\n\r\n",
                         settings);
  ASSERT_FALSE(r.ec) << r.ec.message();
  EXPECT_EQ(r.req.find("X-Big"), r.req.end());
}

}  // namespace
}  // namespace eg::net
