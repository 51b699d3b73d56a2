#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/result.h"
#include "net/http_client.h"

namespace eg::net {

// One HTTP/1.1 connection for what the pooled HttpClient does not do: reading a response
// body incrementally as it arrives (long-lived streams such as etcd's watch), and TLS with
// a caller's ssl::context (private CA, client certificate). Requests on it are sequential;
// after a complete response the connection can carry the next request (keep-alive).
//
// Not thread-safe: use it from the executor it was opened on. Every operation has a
// deadline. Errors: kTimeout, kUnavailable (connect, reset, TLS), kInvalid (malformed).
class HttpStream {
 public:
  // `tls`: when non-null the connection speaks TLS with this context, verifying the peer
  // against `url.host` if the context verifies; it must outlive the stream.
  static boost::asio::awaitable<Result<std::unique_ptr<HttpStream>>> open(
      const Url& url, boost::asio::ssl::context* tls, std::chrono::milliseconds timeout);

  ~HttpStream();
  HttpStream(const HttpStream&) = delete;
  HttpStream& operator=(const HttpStream&) = delete;

  // Sends a request and reads the response head; returns the status. The body follows
  // through readSome() (a streamed response) or readBody() (a complete one).
  boost::asio::awaitable<Result<unsigned>> start(http::verb method, const std::string& target,
                                                 const std::string& body,
                                                 const std::string& contentType,
                                                 std::chrono::milliseconds timeout);

  // The next bytes of the body as they arrive (at most one read), or nullopt once the
  // body is complete. An error when nothing arrives within `timeout`.
  boost::asio::awaitable<Result<std::optional<std::string>>> readSome(
      std::chrono::milliseconds timeout);

  // The rest of the body, up to `limit` bytes.
  boost::asio::awaitable<Result<std::string>> readBody(std::chrono::milliseconds timeout,
                                                       std::size_t limit = 64 * 1024 * 1024);

  // Whether another request may follow on this connection: the last response was read
  // completely and the server keeps the connection open.
  bool reusable() const;

  // Aborts any pending operation (it completes with an error). Safe to call on the
  // stream's executor at any time.
  void close();

  const Url& url() const { return url_; }

 private:
  struct Impl;
  explicit HttpStream(std::unique_ptr<Impl> impl, Url url);

  std::unique_ptr<Impl> impl_;
  Url url_;
};

}  // namespace eg::net
