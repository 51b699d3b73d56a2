#pragma once

#include <algorithm>
#include <cstddef>
#include <optional>
#include <string_view>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http.hpp>

#include "net/http_server.h"

// The server's reading of one request, apart from its sockets so that it can be tested
// (and fuzzed) on any stream. A request is parsed under the limits of ServerSettings
// from what the connection's buffer holds and then from the stream, answering
// `Expect: 100-continue` before a body is read; what follows it stays in the buffer
// (pipelined requests). The error is Beast's, or
// - http::error::header_limit for a head larger than headerLimit, and for a chunk
//   header line or trailer section that holds more than headerLimit + 64 KiB unparsed
//   (Beast would buffer those without end);
// - http::error::bad_transfer_encoding for a Transfer-Encoding that does not end in
//   chunked: such a body cannot be framed (RFC 9112 section 6.1), and reading the
//   request as one without a body would take the body for the next request.
//
// Two steps: startRequest parses what the buffer holds, usually the whole request,
// without I/O; finishRequest reads what is missing. readRequest runs both.
namespace eg::net {

// The server's request parser: Beast's, but for a chunked body's trailer fields, which
// Beast adds to the header. A recipient must not merge trailer fields into the header
// (RFC 9110 section 6.5.1): handlers would take them for headers the client sent, and
// they are not held to the head's limit. They are dropped, as RFC 9112 section 7.1.2
// allows.
class RequestParser final : public http::request_parser<http::string_body> {
 private:
  void on_field_impl(http::field name, boost::beast::string_view nameString,
                     boost::beast::string_view value, boost::system::error_code&) override {
    if (!is_header_done()) get().insert(name, nameString, value);
  }
};

// Starts a request in `parser` (emplaced here, with the limits of `settings`) and parses
// what `buffer` holds (at least its first byte). True when that settled it: the request
// is complete, or `ec` says why it is refused. False when the rest is to be read by
// finishRequest, with `headSize` (the bytes of the head taken so far).
bool startRequest(std::optional<RequestParser>& parser, boost::beast::flat_buffer& buffer,
                  const ServerSettings& settings, std::size_t& headSize,
                  boost::system::error_code& ec);

namespace read_request_detail {
// The head is complete: holds the limits on it, then parses what `buffer` holds of the
// body. True when that settled the request, as startRequest.
bool headDone(RequestParser& parser, boost::beast::flat_buffer& buffer,
              const ServerSettings& settings, std::size_t headSize,
              boost::system::error_code& ec);
}  // namespace read_request_detail

// Reads the rest of a request startRequest did not settle.
template <class Stream>
boost::asio::awaitable<boost::system::error_code> finishRequest(
    Stream& stream, boost::beast::flat_buffer& buffer, RequestParser& parser,
    const ServerSettings& settings, std::size_t headSize) {
  namespace asio = boost::asio;
  constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
  constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";
  constexpr std::size_t kReadSize = 64 * 1024;  // Beast's async_read reads up to this at once

  boost::system::error_code ec;
  std::size_t n = 0;
  if (!parser.is_header_done()) {
    std::tie(ec, n) = co_await http::async_read_header(stream, buffer, parser, kTuple);
    if (ec || read_request_detail::headDone(parser, buffer, settings, headSize + n, ec)) {
      co_return ec;
    }
  }
  const Request& req = parser.get();
  auto expect = req.find(http::field::expect);
  if (expect != req.end() && boost::beast::iequals(expect->value(), "100-continue")) {
    auto [wec, wn] = co_await asio::async_write(
        stream, asio::const_buffer(kContinue.data(), kContinue.size()), kTuple);
    if (wec) co_return wec;
  }
  // The parser takes the body out of the buffer as it arrives; only a chunk header line
  // or the trailer section stays there, unparsed, until its end arrives.
  const std::size_t maxSize = buffer.max_size();
  buffer.max_size(std::max(buffer.size(), settings.headerLimit + kReadSize));
  std::tie(ec, n) = co_await http::async_read(stream, buffer, parser, kTuple);
  buffer.max_size(maxSize);
  if (ec == http::error::buffer_overflow) ec = http::error::header_limit;
  co_return ec;
}

// Reads one request into `parser` (emplaced here): startRequest, then finishRequest if
// need be. (The server runs the two itself: a request that arrived whole then costs no
// coroutine.)
template <class Stream>
boost::asio::awaitable<boost::system::error_code> readRequest(
    Stream& stream, boost::beast::flat_buffer& buffer, std::optional<RequestParser>& parser,
    const ServerSettings& settings) {
  std::size_t headSize = 0;
  boost::system::error_code ec;
  if (startRequest(parser, buffer, settings, headSize, ec)) co_return ec;
  co_return co_await finishRequest(stream, buffer, *parser, settings, headSize);
}

}  // namespace eg::net
