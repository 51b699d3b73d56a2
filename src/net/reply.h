#pragma once

#include <functional>
#include <string_view>
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>

namespace eg::net {

namespace http = boost::beast::http;

using Request = http::request<http::string_body>;
using Response = http::response<http::string_body>;

// Where a streamed body goes: the connection, or a string (collect). A producer gets
// one for the duration of its call and must not keep it.
class BodyWriter {
 public:
  virtual ~BodyWriter() = default;
  // Sends `data` as the next piece of the body (one chunk on HTTP/1.1) and completes once
  // the connection took it, so that a producer never runs ahead of its client and other
  // work of the thread runs in between. The response head goes out with the first write;
  // an empty write sends only the head (what a producer that waits before its first data
  // calls). False once the client is gone or too slow (the write deadline passed): the
  // producer should return, since every later write is refused too.
  virtual boost::asio::awaitable<bool> write(std::string_view data) = 0;
  // Whether the client is gone: it closed or reset the connection, or (over TLS, where
  // a closing client first sends its close_notify) sent anything at all. A producer
  // that waits for data between writes asks now and then, so as not to keep serving a
  // connection nobody reads. Never blocks.
  virtual bool peerClosed() { return false; }
};

// Writes a body through the writer, then returns; the server ends the body after it
// (the last chunk). An exception before the first write becomes a 500; after it, the
// connection is closed without ending the body, so the client sees it incomplete.
using BodyProducer = std::function<boost::asio::awaitable<void>(BodyWriter&)>;

// What a handler answers: a whole response, or a response head whose body a producer
// writes piece by piece once the head is on its way (Transfer-Encoding: chunked on
// HTTP/1.1; an HTTP/1.0 client gets the body up to the connection's close). The
// producer runs on the connection's thread and may hold what it needs to write by value.
struct Reply {
  Reply() = default;
  Reply(Response whole) : response(std::move(whole)) {}  // NOLINT: implicit by design
  Reply(Response head, BodyProducer producer)
      : response(std::move(head)), body(std::move(producer)) {}

  bool streamed() const { return static_cast<bool>(body); }

  Response response;  // with a producer: status and fields; its body is not sent
  BodyProducer body;  // empty: response.body() is the body
};

// A handler whose replies may be streamed; see Handler (http_server.h) for the rest.
using ReplyHandler = std::function<boost::asio::awaitable<Reply>(Request&)>;

// The reply as one response: a streamed body is produced into response.body(), with a
// Content-Length. For in-process callers and tests; it holds the whole body.
boost::asio::awaitable<Response> collect(Reply reply);

}  // namespace eg::net
