#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/beast/http.hpp>

#include "common/result.h"
#include "net/io_pool.h"
#include "net/reply.h"

namespace eg::net {

struct TlsFiles {
  std::string certFile;  // PEM chain
  std::string keyFile;   // PEM private key
  // When set, clients must present a certificate signed by one of these CAs (PEM):
  // mutual TLS. A handshake without one, or with another CA's, fails.
  std::string clientCaFile;
};

// | option           | default      | meaning                                               |
// |------------------|--------------|-------------------------------------------------------|
// | address          | 0.0.0.0      | listen address                                        |
// | port             | 0            | 0 picks a free port (see HttpServer::port)            |
// | bodyLimit        | 6 MiB        | larger bodies answer 413                              |
// | headerLimit      | 64 KiB       | larger request heads answer 431 (see below)           |
// | readTimeout      | 30 s         | a request must arrive whole within this (slow-loris)  |
// | idleTimeout      | 60 s         | keep-alive connections idle longer are closed         |
// | maxConnections   | 10000        | accepted connections beyond this are closed at once   |
// | tls              | none         | serve HTTPS with these files                          |
//
// headerLimit counts the request head as it arrives: the request line, the header
// fields and every CRLF, up to and including the empty line that ends the head.
struct ServerSettings {
  std::string address = "0.0.0.0";
  uint16_t port = 0;
  std::size_t bodyLimit = 6 * 1024 * 1024;
  std::size_t headerLimit = 64 * 1024;
  std::chrono::milliseconds readTimeout{30'000};
  std::chrono::milliseconds idleTimeout{60'000};
  std::size_t maxConnections = 10'000;
  std::optional<TlsFiles> tls;
};

// A plain function from request to response: testable without sockets. It runs on the
// io_context of the connection and must not block. Framing is the server's: a response
// without Content-Length, Transfer-Encoding and Connection fields gets them written
// with its head (the cheapest way); one that has them is corrected where they are
// wrong (length, keep-alive the client did not ask for).
// A handler that may stream its bodies answers a Reply instead (ReplyHandler, reply.h);
// the server then frames a streamed body itself (chunked, or up to the close on HTTP/1.0)
// and writes each piece as the producer hands it over.
using Handler = std::function<boost::asio::awaitable<Response>(Request&)>;

// Whether `target` is an absolute-form request target with an http or https URL
// ("http://host/path?query", the scheme in any case).
bool isAbsoluteForm(std::string_view target);

// HTTP/1.1 server with keep-alive. Malformed requests get 400, oversized bodies 413,
// oversized heads 431; every read and write has a deadline. Handlers see only
// origin-form ("/path?query") and absolute-form targets: the server answers `OPTIONS *`
// itself (200, empty) and any other target 400 (RFC 9112 section 3.2).
class HttpServer {
 public:
  HttpServer(IoPool& pool, ServerSettings settings, Handler handler);
  HttpServer(IoPool& pool, ServerSettings settings, ReplyHandler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts accepting; throws std::runtime_error (start-up error) when the
  // address cannot be bound or the TLS files cannot be loaded.
  void start();
  // From now on every response closes its connection (`Connection: close`), kept-alive
  // connections after their next request; the server still accepts. Any thread.
  void drain();
  // Reads the TLS files again (SIGHUP): connections accepted from now on use the new
  // certificate, key and client CAs; open ones keep theirs. On an error (unreadable or
  // mismatched files) nothing changes and the error says why. Any thread; a server
  // without TLS has nothing to reload.
  Status reloadTls();
  // Stops accepting and closes idle connections; requests in flight finish.
  void stop();
  uint16_t port() const;

  // Connections open now, and accepted since start() (capped ones not counted). Any thread.
  std::size_t liveConnections() const;
  std::uint64_t acceptedConnections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::net
