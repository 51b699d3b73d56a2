#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>

#include "common/result.h"

namespace eg::net {

namespace http = boost::beast::http;

// A parsed absolute http(s) URL, parsed once (at configuration time), not per call.
struct Url {
  bool tls = false;
  std::string host;
  uint16_t port = 0;
  std::string target;  // path and query, at least "/"
  std::string hostHeader() const;  // "host" or "host:port" when not the default port
  std::string origin() const;      // "http://host:port"

  // kInvalid with a message when `text` is not an absolute http or https URL.
  static Result<Url> parse(std::string_view text);
};

struct ClientRequest {
  http::verb method = http::verb::post;
  const Url* url = nullptr;  // must outlive the call
  // When set, the head up to Content-Length as fixedRequestHead wrote it for this
  // method and URL (must outlive the call), instead of the request line, Host and
  // User-Agent; `headers` follow it, and must not name User-Agent.
  const std::string* fixedHead = nullptr;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // When non-empty, sent instead of `body` without a copy; must outlive the call.
  std::string_view bodyView;
  std::chrono::milliseconds connectTimeout{5'000};
  std::chrono::milliseconds responseTimeout{30'000};  // from request sent to response read
};

// The head of a request up to its Content-Length (request line, Host, `headers` but
// Host and the framing ones, a User-Agent unless `headers` has one), for a caller that
// sends many requests alike: written once instead of per call. Unlike
// ClientRequest::headers, `headers` are not checked here: the caller checks them once.
std::string fixedRequestHead(http::verb method, const Url& url,
                             const std::vector<std::pair<std::string, std::string>>& headers);

struct ClientResponse {
  unsigned status = 0;
  std::string body;
  // First header with this name (case-insensitive), or empty.
  std::string_view header(std::string_view name) const;
  void addHeader(std::string_view name, std::string_view value);
  // Replaces the headers with `lines`: "Name: value\r\n" lines, values trimmed.
  void setHeaderLines(std::string_view lines) { headerLines_.assign(lines); }
  void clearHeaders() { headerLines_.clear(); }
  // Every header as a "Name: value\r\n" line, in the order received.
  std::string_view headerLines() const { return headerLines_; }

 private:
  // "Name: value\r\n" per header, in the order received: one buffer instead of a string
  // pair per header, searched by header().
  std::string headerLines_;
};

// Error kinds of a call: kTimeout (connect or response deadline), kUnavailable
// (cannot connect, connection reset, TLS failure), kInvalid (malformed response).
// A non-2xx status is NOT an error here: the caller decides.
//
// Connections are kept alive and pooled per (io_context, origin): a call uses a pool of
// the io_context it runs on, so pooled connections never cross threads. Each io_context
// that makes calls must be run by one thread (IoPool's are); a client may be shared by
// many such contexts. Deadlines are enforced by one sweep per io_context (net/deadlines)
// and fire at most 10 ms late.
class HttpClient {
 public:
  struct Settings {
    std::size_t maxIdlePerOrigin = 64;
    std::chrono::milliseconds idleTimeout{30'000};
    std::size_t maxResponseBody = 64 * 1024 * 1024;
    bool verifyPeer = true;  // verify https peers against the system CA store
  };
  HttpClient();
  explicit HttpClient(Settings settings);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  boost::asio::awaitable<Result<ClientResponse>> send(ClientRequest request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::net
