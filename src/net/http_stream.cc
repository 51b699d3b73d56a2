#include "net/http_stream.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace eg::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::size_t kReadChunk = 16 * 1024;

Error ioError(const Url& url, std::string_view what, const error_code& ec,
              std::chrono::milliseconds timeout) {
  if (ec == beast::error::timeout) {
    return Error::timeout(std::string(what) + " " + url.origin() + " timed out after " +
                          std::to_string(timeout.count()) + " ms");
  }
  return Error::unavailable(std::string(what) + " " + url.origin() + ": " + ec.message());
}

}  // namespace

struct HttpStream::Impl {
  std::optional<beast::tcp_stream> plain;
  std::optional<ssl::stream<beast::tcp_stream>> tls;
  beast::flat_buffer buffer;
  std::optional<http::response_parser<http::buffer_body>> parser;
  bool done = true;       // the last response was read completely
  bool keepAlive = true;  // ... and the server keeps the connection
  bool failed = false;

  beast::tcp_stream& tcp() { return tls ? beast::get_lowest_layer(*tls) : *plain; }

  template <class Fn>
  auto withStream(Fn&& fn) {
    return tls ? fn(*tls) : fn(*plain);
  }
};

HttpStream::HttpStream(std::unique_ptr<Impl> impl, Url url)
    : impl_(std::move(impl)), url_(std::move(url)) {}

HttpStream::~HttpStream() = default;

asio::awaitable<Result<std::unique_ptr<HttpStream>>> HttpStream::open(
    const Url& url, ssl::context* tlsContext, std::chrono::milliseconds timeout) {
  auto ex = co_await asio::this_coro::executor;
  auto impl = std::make_unique<Impl>();
  if (tlsContext != nullptr) {
    impl->tls.emplace(ex, *tlsContext);
  } else {
    impl->plain.emplace(ex);
  }
  beast::tcp_stream& tcp = impl->tcp();
  tcp.expires_after(timeout);
  error_code ec;
  auto address = asio::ip::make_address(url.host, ec);
  const bool isAddress = !ec;
  if (isAddress) {
    std::tie(ec) = co_await tcp.async_connect(tcp::endpoint(address, url.port), kTuple);
  } else {
    // Resolution of a name blocks a resolver thread; the connect deadline still bounds it.
    tcp::resolver resolver(ex);
    auto [rec, results] =
        co_await resolver.async_resolve(url.host, std::to_string(url.port), kTuple);
    if (rec) co_return Error::unavailable("cannot resolve " + url.origin() + ": " + rec.message());
    tcp::endpoint ignored;
    std::tie(ec, ignored) = co_await tcp.async_connect(results, kTuple);
  }
  if (ec) co_return ioError(url, "cannot connect to", ec, timeout);
  tcp.socket().set_option(tcp::no_delay(true), ec);

  if (impl->tls) {
    auto& stream = *impl->tls;
    if (!isAddress && !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
      co_return Error::unavailable("cannot set TLS server name for " + url.origin());
    }
    if (SSL_CTX_get_verify_mode(tlsContext->native_handle()) & SSL_VERIFY_PEER) {
      stream.set_verify_callback(ssl::host_name_verification(url.host));
    }
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
    if (hec) co_return ioError(url, "TLS handshake failed with", hec, timeout);
  }
  tcp.expires_never();
  co_return std::unique_ptr<HttpStream>(new HttpStream(std::move(impl), url));
}

asio::awaitable<Result<unsigned>> HttpStream::start(http::verb method, const std::string& target,
                                                    const std::string& body,
                                                    const std::string& contentType,
                                                    std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (!s.done || !s.keepAlive || s.failed) {
    co_return Error::invalid("connection to " + url_.origin() + " cannot take a request");
  }
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, url_.hostHeader());
  req.set(http::field::user_agent, "event-gateway");
  if (!contentType.empty()) req.set(http::field::content_type, contentType);
  req.body() = body;
  req.prepare_payload();

  s.tcp().expires_after(timeout);
  s.done = false;
  auto [wec, wn] =
      co_await s.withStream([&](auto& stream) { return http::async_write(stream, req, kTuple); });
  if (wec) {
    s.failed = true;
    co_return ioError(url_, "cannot send request to", wec, timeout);
  }
  s.parser.emplace();
  s.parser->body_limit(boost::none);
  auto [rec, rn] = co_await s.withStream(
      [&](auto& stream) { return http::async_read_header(stream, s.buffer, *s.parser, kTuple); });
  s.tcp().expires_never();
  if (rec) {
    s.failed = true;
    co_return ioError(url_, "no response from", rec, timeout);
  }
  s.keepAlive = s.parser->keep_alive();
  if (s.parser->is_done()) s.done = true;
  co_return static_cast<unsigned>(s.parser->get().result_int());
}

asio::awaitable<Result<std::optional<std::string>>> HttpStream::readSome(
    std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.failed || !s.parser)
    co_return Error::unavailable("connection to " + url_.origin() + " failed");
  std::string out;
  while (!s.parser->is_done()) {
    out.resize(kReadChunk);
    auto& body = s.parser->get().body();
    body.data = out.data();
    body.size = out.size();
    s.tcp().expires_after(timeout);
    auto [ec, n] = co_await s.withStream(
        [&](auto& stream) { return http::async_read_some(stream, s.buffer, *s.parser, kTuple); });
    s.tcp().expires_never();
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      s.failed = true;
      co_return ioError(url_, "stream from", ec, timeout);
    }
    out.resize(kReadChunk - s.parser->get().body().size);
    if (!out.empty()) co_return std::optional<std::string>(std::move(out));
  }
  s.done = true;
  co_return std::optional<std::string>();
}

asio::awaitable<Result<std::string>> HttpStream::readBody(std::chrono::milliseconds timeout,
                                                          std::size_t limit) {
  std::string body;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      impl_->failed = true;
      co_return Error::timeout("response from " + url_.origin() + " timed out after " +
                               std::to_string(timeout.count()) + " ms");
    }
    auto part = co_await readSome(left);
    if (!part) co_return std::move(part).error();
    if (!*part) co_return body;
    body += **part;
    if (body.size() > limit) {
      impl_->failed = true;
      co_return Error::invalid("response from " + url_.origin() + " exceeds " +
                               std::to_string(limit) + " bytes");
    }
  }
}

bool HttpStream::reusable() const {
  return impl_->done && impl_->keepAlive && !impl_->failed && impl_->buffer.size() == 0;
}

void HttpStream::close() {
  impl_->failed = true;
  error_code ec;
  impl_->tcp().socket().shutdown(tcp::socket::shutdown_both, ec);
  impl_->tcp().close();
}

}  // namespace eg::net
