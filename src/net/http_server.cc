#include "net/http_server.h"

#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>
#include <vector>

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <spdlog/spdlog.h>

#include "common/json.h"
#include "net/deadlines.h"
#include "net/read_now.h"
#include "net/read_request.h"
#include "net/write_now.h"

namespace eg::net {

namespace {

namespace beast = boost::beast;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using boost::system::error_code;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// A response must be taken by the client within this time; a reader slower than that
// is holding a connection hostage.
constexpr std::chrono::seconds kWriteTimeout{30};
// After an error response the request body may still be arriving; reading it away for a
// short while (instead of closing with unread data, which sends RST) lets the client
// see the response. The time bounds it: a client on loopback sends a megabyte in a few
// milliseconds, and a byte cap that low reset connections whose client had not yet read
// the answer (a 413 lost under load). The byte cap only stops a flood.
constexpr std::chrono::milliseconds kLingerTimeout{500};
constexpr std::size_t kLingerMaxBytes = 64 * 1024 * 1024;
constexpr std::size_t kFirstReadSize = 4096;
// A connection that once received a large request gives the memory back while idle.
constexpr std::size_t kMaxIdleBuffer = 64 * 1024;

using ReusePort = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// A session as seen by stop(): idle sessions (waiting for the first byte of the next
// request) are cancelled at once, busy ones finish their request and then close.
struct SessionNode {
  Deadlines::Entry deadline;  // its socket is the connection's
  bool idle = false;
  SessionNode* prev = nullptr;
  SessionNode* next = nullptr;
};

// Everything one io_context needs to serve: touched only from that context's thread
// (or under IoPool-not-running in start/stop), so it needs no lock.
struct Worker {
  explicit Worker(asio::io_context& c) : ctx(c) {}
  asio::io_context& ctx;
  std::optional<tcp::acceptor> acceptor;
  std::shared_ptr<Deadlines> deadlines;
  SessionNode* sessions = nullptr;
  bool draining = false;  // every response closes its connection (drain or stop)
  bool stopping = false;

  void link(SessionNode& n) {
    n.next = sessions;
    if (sessions != nullptr) sessions->prev = &n;
    sessions = &n;
  }
  void unlink(SessionNode& n) {
    if (n.prev != nullptr) n.prev->next = n.next;
    else sessions = n.next;
    if (n.next != nullptr) n.next->prev = n.prev;
  }
};

class Registration {
 public:
  Registration(Worker& w, SessionNode& n) : worker_(w), node_(n) { worker_.link(node_); }
  ~Registration() { worker_.unlink(node_); }
  Registration(const Registration&) = delete;
  Registration& operator=(const Registration&) = delete;

 private:
  Worker& worker_;
  SessionNode& node_;
};

struct State {
  ServerSettings settings;
  // One of the two is set: most servers answer whole responses (Handler), a server
  // whose handler may stream answers Replies.
  Handler handler;
  ReplyHandler replyHandler;
  // The TLS context new connections use; replaced whole by reloadTls, while the
  // connections made with the previous one keep it through their shared_ptr.
  std::mutex tlsMu;
  std::shared_ptr<ssl::context> tls;
  std::shared_ptr<ssl::context> currentTls() {
    std::lock_guard lock(tlsMu);
    return tls;
  }
  std::vector<std::unique_ptr<Worker>> workers;
  std::atomic<std::size_t> live{0};
  std::atomic<std::uint64_t> accepted{0};
  std::atomic<std::int64_t> lastWarnMs{0};
  uint16_t port = 0;
};

// One slot of maxConnections, released when the session's frame is destroyed (even if
// the session never ran because its io_context was torn down). It owns the server state
// so the counter outlives the release whatever order the frame destroys its parameters.
class ConnectionSlot {
 public:
  explicit ConnectionSlot(std::shared_ptr<State> state) : state_(std::move(state)) {}
  ConnectionSlot(ConnectionSlot&&) noexcept = default;
  ConnectionSlot& operator=(ConnectionSlot&&) = delete;
  ~ConnectionSlot() {
    if (state_) state_->live.fetch_sub(1, std::memory_order_relaxed);
  }
  State& state() const { return *state_; }

 private:
  std::shared_ptr<State> state_;
};

bool shouldWarn(std::atomic<std::int64_t>& last) {
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t prev = last.load(std::memory_order_relaxed);
  if (now - prev < 1000) return false;
  return last.compare_exchange_strong(prev, now, std::memory_order_relaxed);
}

void logEscaped(const char* what, std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    spdlog::error("http server: {} ended with an exception: {}", what, ex.what());
  } catch (...) {
    spdlog::error("http server: {} ended with an unknown exception", what);
  }
}

Response errorResponse(http::status status, std::string_view message, unsigned version) {
  Response res{status, version};
  res.set(http::field::content_type, "application/json");
  res.body() = errorBody(message);
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

enum class ReadFailure { kClose, kBadRequest, kBodyTooLarge, kHeaderTooLarge };

ReadFailure classify(const error_code& ec) {
  if (ec == http::error::body_limit) return ReadFailure::kBodyTooLarge;
  if (ec == http::error::header_limit) return ReadFailure::kHeaderTooLarge;
  static const auto& httpCategory = make_error_code(http::error::bad_method).category();
  if (ec.category() == httpCategory && ec != http::error::end_of_stream &&
      ec != http::error::partial_message) {
    return ReadFailure::kBadRequest;
  }
  // Timeouts, resets, EOF: the peer is gone or too slow; there is nobody to answer.
  return ReadFailure::kClose;
}

// A target that is neither origin-form nor absolute-form: `OPTIONS *` asks about the
// server as a whole (RFC 9110 section 9.3.7) and needs nothing but an answer; any other
// (authority-form is CONNECT's, and the server is no proxy) is a bad request.
Response otherTargetForm(const Request& req) {
  if (req.method() == http::verb::options && req.target() == "*") {
    return Response{http::status::ok, req.version()};
  }
  return errorResponse(http::status::bad_request,
                       "request target must be a path starting with \"/\" or an absolute "
                       "http(s) URL",
                       req.version());
}

bool handlerWantsClose(const Response& res) {
  auto it = res.find(http::field::connection);
  return it != res.end() && http::token_list{it->value()}.exists("close");
}

// Whether a response of this status carries a body (RFC 9110: not 1xx, 204, 304).
bool hasBody(const Response& res) {
  const unsigned code = res.result_int();
  return !(code / 100 == 1 || code == 204 || code == 304);
}

// Frames the body. Handlers usually have (Content-Length of the body's size, no
// Transfer-Encoding); setting it again would only replace the field with itself.
void preparePayload(Response& res) {
  const unsigned code = res.result_int();
  if (code / 100 == 1 || code == 204 || code == 304) {
    // No body, and no length: RFC 9110 forbids one on 1xx and 204 (Beast writes 0).
    res.body().clear();
    res.erase(http::field::content_length);
    res.erase(http::field::transfer_encoding);
    return;
  }
  // One pass over the handful of fields: lookups by name cost more than the check saves.
  int lengths = 0;
  std::string_view length;
  bool encoded = false;
  for (const auto& field : res) {
    if (field.name() == http::field::content_length) {
      ++lengths;
      length = field.value();
    } else if (field.name() == http::field::transfer_encoding) {
      encoded = true;
    }
  }
  if (lengths == 1 && !encoded) {
    char digits[24];
    const auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), res.body().size());
    if (length == std::string_view(digits, end - digits)) return;
  }
  res.prepare_payload();
}

// Whether the server writes the framing of `res` itself, as writeHead's last lines:
// the usual response, whose handler left framing to the server (no Content-Length,
// Transfer-Encoding or Connection field, a status that has a body). Anything else is
// framed here through Beast's fields, as the handler's fields demand.
bool frameOnWrite(Response& res, bool keepAlive) {
  const unsigned code = res.result_int();
  bool own = !(code / 100 == 1 || code == 204 || code == 304);
  if (own) {
    for (const auto& field : res) {
      const http::field name = field.name();
      if (name == http::field::content_length || name == http::field::transfer_encoding ||
          name == http::field::connection) {
        own = false;
        break;
      }
    }
  }
  if (own) return true;
  // Most handlers answered with the request's keep-alive already.
  if (res.keep_alive() != keepAlive) res.keep_alive(keepAlive);
  preparePayload(res);
  return false;
}

char* put(char* p, std::string_view s) {
  // An empty view may have a null data(), which memcpy must not be given.
  if (!s.empty()) std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

// The head as Beast's serializer writes it (status line, fields in order, blank line),
// into a buffer the connection reuses: no allocation and one pass once warm. With
// `frame`, the framing lines Beast would have added (Content-Length of the body, then
// Connection where the version's default does not hold) come last.
void writeHead(const Response& res, bool frame, bool keepAlive, std::string& out) {
  const unsigned version = res.version();
  const unsigned code = res.result_int();
  std::string_view reason = res.reason();
  if (reason.empty()) reason = http::obsolete_reason(res.result());
  char length[24];
  const std::size_t lengthSize =
      frame ? static_cast<std::size_t>(
                  std::to_chars(std::begin(length), std::end(length), res.body().size()).ptr -
                  length)
            : 0;
  std::string_view connection;
  if (frame && version >= 11 && !keepAlive) connection = "Connection: close\r\n";
  if (frame && version < 11 && keepAlive) connection = "Connection: keep-alive\r\n";

  // "HTTP/1.1 200 " (versions and codes past one digit each go the long way below).
  std::size_t size = 13 + reason.size() + 2 + 2;
  for (const auto& field : res) size += field.name_string().size() + field.value().size() + 4;
  if (frame) size += 16 + lengthSize + 2 + connection.size();
  const bool shortLine = version / 10 < 10 && code >= 100 && code <= 999;
  out.resize(size);
  char* p = out.data();
  if (shortLine) {
    p = put(p, "HTTP/");
    *p++ = static_cast<char>('0' + version / 10);
    *p++ = '.';
    *p++ = static_cast<char>('0' + version % 10);
    *p++ = ' ';
    *p++ = static_cast<char>('0' + code / 100);
    *p++ = static_cast<char>('0' + code / 10 % 10);
    *p++ = static_cast<char>('0' + code % 10);
    *p++ = ' ';
  } else {
    const std::string line = "HTTP/" + std::to_string(version / 10) + "." +
                              std::to_string(version % 10) + " " + std::to_string(code) + " ";
    out.resize(size - 13 + line.size());
    p = put(out.data(), line);
  }
  p = put(p, reason);
  p = put(p, "\r\n");
  for (const auto& field : res) {
    p = put(p, field.name_string());
    p = put(p, ": ");
    p = put(p, field.value());
    p = put(p, "\r\n");
  }
  if (frame) {
    p = put(p, "Content-Length: ");
    p = put(p, std::string_view(length, lengthSize));
    p = put(p, "\r\n");
    p = put(p, connection);
  }
  p = put(p, "\r\n");
  out.resize(static_cast<std::size_t>(p - out.data()));
}

// Head and body leave in one gathered write (one sendmsg for a usual response). The
// usual response fits the socket's send buffer and is sent here, without a coroutine;
// `pending` then stays empty. Otherwise `pending` holds what writeResponse still has
// to send. False when the connection failed.
template <class Stream>
bool startResponse(Stream& stream, const Response& res, bool frame, bool keepAlive,
                   bool headOnly, std::string& head, std::array<asio::const_buffer, 2>& pending) {
  writeHead(res, frame, keepAlive, head);
  pending = {asio::buffer(head), headOnly ? asio::const_buffer() : asio::buffer(res.body())};
  if constexpr (std::is_same_v<Stream, tcp::socket>) {
    error_code ec;
    if (writeNow(stream, pending, ec)) {
      pending = {};
      return !ec;
    }
  }
  return true;
}

bool pendingWrite(const std::array<asio::const_buffer, 2>& pending) {
  return pending[0].size() != 0 || pending[1].size() != 0;
}

// Sends what startResponse left, under the write timeout.
template <class Stream>
asio::awaitable<bool> finishResponse(Stream& stream, SessionNode& node,
                                     std::array<asio::const_buffer, 2> pending) {
  Deadlines::after(node.deadline, kWriteTimeout);
  auto [ec, n] = co_await asio::async_write(stream, pending, kTuple);
  Deadlines::clear(node.deadline);
  co_return !ec;
}

template <class Stream>
asio::awaitable<bool> writeResponse(Stream& stream, SessionNode& node, const Response& res,
                                    bool headOnly, std::string& head) {
  std::array<asio::const_buffer, 2> pending;
  if (!startResponse(stream, res, false, res.keep_alive(), headOnly, head, pending)) {
    co_return false;
  }
  if (!pendingWrite(pending)) co_return true;
  co_return co_await finishResponse(stream, node, pending);
}

// The BodyWriter of a streamed response on one connection. The head waits for the
// first write and leaves with it; each write is one chunk (RFC 9112 section 7.1) on
// HTTP/1.1, the bare bytes on HTTP/1.0, sent under the write timeout. Every write is
// asynchronous, so the producer yields to the connection's thread between pieces.
template <class Stream>
class StreamWriter final : public BodyWriter {
 public:
  StreamWriter(Stream& stream, SessionNode& node, const std::string& head, bool chunked)
      : stream_(stream), node_(node), head_(head), chunked_(chunked) {}

  asio::awaitable<bool> write(std::string_view data) override {
    if (failed_) co_return false;
    if (data.empty() && headSent_) co_return true;
    co_return co_await send(data, false);
  }

  // Ends the body: the last chunk (and the head, when nothing was written).
  asio::awaitable<bool> finish() {
    if (failed_) co_return false;
    if (!chunked_ && headSent_) co_return true;
    co_return co_await send({}, true);
  }

  bool headSent() const { return headSent_; }

  bool peerClosed() override {
    if (failed_) return true;
    char byte;
    const ssize_t n = ::recv(beast::get_lowest_layer(stream_).native_handle(), &byte, 1,
                             MSG_PEEK | MSG_DONTWAIT);
    if (n == 0) return true;
    if (n < 0) return errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR;
    return !std::is_same_v<Stream, tcp::socket>;
  }

 private:
  asio::awaitable<bool> send(std::string_view data, bool last) {
    char size[20];
    std::size_t sizeLength = 0;
    std::string_view trailer;
    if (chunked_ && last) {
      trailer = "0\r\n\r\n";
    } else if (chunked_ && !data.empty()) {
      char* end = std::to_chars(size, size + sizeof size - 2, data.size(), 16).ptr;
      *end++ = '\r';
      *end++ = '\n';
      sizeLength = static_cast<std::size_t>(end - size);
      trailer = "\r\n";
    }
    const std::array<asio::const_buffer, 4> buffers{
        headSent_ ? asio::const_buffer() : asio::buffer(head_), asio::buffer(size, sizeLength),
        asio::buffer(data), asio::buffer(trailer)};
    Deadlines::after(node_.deadline, kWriteTimeout);
    auto [ec, n] = co_await asio::async_write(stream_, buffers, kTuple);
    Deadlines::clear(node_.deadline);
    headSent_ = true;
    if (ec) {
      failed_ = true;
      spdlog::debug("http server: streamed response ended early: {}", ec.message());
    }
    co_return !failed_;
  }

  Stream& stream_;
  SessionNode& node_;
  const std::string& head_;
  const bool chunked_;
  bool headSent_ = false;
  bool failed_ = false;
};

enum class StreamEnd { kKeep, kClose, kFailed };

// Writes a reply whose body `producer` writes. The head is framed here: chunked on
// HTTP/1.1; on HTTP/1.0, which has no chunks, the body ends with the connection. kKeep:
// the connection may serve another request; kClose: the response is complete and the
// connection closes behind it; kFailed: the connection is broken or the body incomplete.
template <class Stream>
asio::awaitable<StreamEnd> streamResponse(Stream& stream, SessionNode& node, Response& res,
                                          const BodyProducer& producer, bool keepAlive,
                                          bool headOnly, std::string& head) {
  const bool chunked = res.version() >= 11;
  const bool keep = keepAlive && chunked;
  res.body().clear();
  res.erase(http::field::content_length);
  if (chunked) res.chunked(true);
  else res.erase(http::field::transfer_encoding);
  res.keep_alive(keep);
  writeHead(res, false, keep, head);
  StreamWriter<Stream> writer(stream, node, head, chunked);
  if (headOnly) {
    // The head as a GET would have it, and no body: not even the last chunk.
    if (!co_await writer.write({})) co_return StreamEnd::kFailed;
    co_return keep ? StreamEnd::kKeep : StreamEnd::kClose;
  }
  bool failed = false;
  try {
    co_await producer(writer);
  } catch (const std::exception& e) {
    failed = true;
    spdlog::error("http server: streamed body failed: {}", e.what());
  } catch (...) {
    failed = true;
    spdlog::error("http server: streamed body failed: unknown exception");
  }
  if (failed) {
    if (writer.headSent()) co_return StreamEnd::kFailed;
    Response error =
        errorResponse(http::status::internal_server_error, "internal server error", res.version());
    co_return co_await writeResponse(stream, node, error, false, head) ? StreamEnd::kClose
                                                                       : StreamEnd::kFailed;
  }
  if (!co_await writer.finish()) co_return StreamEnd::kFailed;
  co_return keep ? StreamEnd::kKeep : StreamEnd::kClose;
}

asio::awaitable<void> lingeringClose(tcp::socket& tcp, SessionNode& node) {
  error_code ignored;
  tcp.shutdown(tcp::socket::shutdown_send, ignored);
  Deadlines::after(node.deadline, kLingerTimeout);
  std::array<char, 4096> scratch;
  std::size_t total = 0;
  while (total < kLingerMaxBytes) {
    auto [ec, n] = co_await tcp.async_read_some(asio::buffer(scratch), kTuple);
    if (ec) break;
    total += n;
  }
}

template <class Stream>
asio::awaitable<void> serve(State& st, Worker& worker, Stream& stream, SessionNode& node) {
  const ServerSettings& cfg = st.settings;
  tcp::socket& tcp = beast::get_lowest_layer(stream);
  // Per connection, reused by every request on it.
  beast::flat_buffer buffer;
  std::string head;
  std::optional<RequestParser> parser;

  for (;;) {
    if (worker.stopping) co_return;
    if (buffer.size() == 0) {
      // Between requests: idleTimeout applies until the first byte of the next one.
      if (buffer.capacity() > kMaxIdleBuffer) buffer.shrink_to_fit();
      node.idle = true;
      Deadlines::after(node.deadline, cfg.idleTimeout);
      error_code ec;
      std::size_t n = 0;
      if constexpr (std::is_same_v<Stream, tcp::socket>) {
        // The client sends its next request once it has read our response: a receive
        // tried now would find nothing (from the second request on, see below).
        if (!readNow(stream, buffer.prepare(kFirstReadSize), n, ec)) {
          std::tie(ec, n) = co_await stream.async_read_some(buffer.prepare(kFirstReadSize), kTuple);
          readDone(stream, ec, n, kFirstReadSize);
        }
      } else {
        std::tie(ec, n) = co_await stream.async_read_some(buffer.prepare(kFirstReadSize), kTuple);
      }
      node.idle = false;
      if (ec) co_return;
      buffer.commit(n);
    }

    // From the first byte on, the whole request must arrive within readTimeout: a client
    // trickling bytes cannot keep the connection forever.
    Deadlines::after(node.deadline, cfg.readTimeout);
    // readRequest, in this frame: a request that arrived whole costs no coroutine.
    std::size_t headSize = 0;
    error_code ec;
    if (!startRequest(parser, buffer, cfg, headSize, ec)) {
      ec = co_await finishRequest(stream, buffer, *parser, cfg, headSize);
    }
    if (ec) {
      Response res;
      switch (classify(ec)) {
        case ReadFailure::kClose:
          co_return;
        case ReadFailure::kBodyTooLarge:
          res = errorResponse(http::status::payload_too_large,
                              "request body exceeds " + std::to_string(cfg.bodyLimit) + " bytes",
                              11);
          break;
        case ReadFailure::kHeaderTooLarge:
          res = errorResponse(http::status::request_header_fields_too_large,
                              "request head (request line and header fields) exceeds " +
                                  std::to_string(cfg.headerLimit) + " bytes",
                              11);
          break;
        case ReadFailure::kBadRequest:
          res = errorResponse(http::status::bad_request, "malformed HTTP request: " + ec.message(),
                              11);
          break;
      }
      if (co_await writeResponse(stream, node, res, false, head)) {
        co_await lingeringClose(tcp, node);
      }
      co_return;
    }

    // The handler may take as long as the functions it calls; those calls have deadlines.
    Deadlines::clear(node.deadline);
    Request& req = parser->get();
    const unsigned version = req.version();
    const bool headOnly = req.method() == http::verb::head;
    const bool clientKeepAlive = req.keep_alive();
    Response res;
    BodyProducer producer;
    bool failed = false;
    try {
      if (req.target().starts_with('/') || isAbsoluteForm(req.target())) {
        if (st.handler) {
          res = co_await st.handler(req);
        } else {
          Reply reply = co_await st.replyHandler(req);
          res = std::move(reply.response);
          producer = std::move(reply.body);
        }
      } else {
        res = otherTargetForm(req);
      }
    } catch (const std::exception& e) {
      failed = true;
      producer = nullptr;
      spdlog::error("http server: handler failed for {} {}: {}", req.method_string(), req.target(),
                    e.what());
      res = errorResponse(http::status::internal_server_error, "internal server error", version);
    } catch (...) {
      failed = true;
      producer = nullptr;
      spdlog::error("http server: handler failed for {} {}: unknown exception",
                    req.method_string(), req.target());
      res = errorResponse(http::status::internal_server_error, "internal server error", version);
    }
    // The request (and its body) is no longer needed while the response is written.
    parser.reset();

    // The request was read whole, so a failed handler does not spoil the connection.
    const bool keepAlive =
        clientKeepAlive && !worker.draining && (failed || !handlerWantsClose(res));
    res.version(version);
    if (producer && hasBody(res)) {
      switch (co_await streamResponse(stream, node, res, producer, keepAlive, headOnly, head)) {
        case StreamEnd::kKeep:
          break;
        case StreamEnd::kClose:
          if (buffer.size() > 0) co_await lingeringClose(tcp, node);
          co_return;
        case StreamEnd::kFailed:
          co_return;
      }
      if constexpr (std::is_same_v<Stream, tcp::socket>) watchPeerClose(stream);
      continue;
    }
    bool frame = false;
    try {
      frame = frameOnWrite(res, keepAlive);
    } catch (const std::exception& e) {
      spdlog::error("http server: invalid response from handler: {}", e.what());
      res = errorResponse(http::status::internal_server_error, "internal server error", version);
      res.keep_alive(keepAlive);
    }
    // Inline rather than through writeResponse: one coroutine less per request.
    std::array<asio::const_buffer, 2> pending;
    if (!startResponse(stream, res, frame, keepAlive, headOnly, head, pending)) co_return;
    if (pendingWrite(pending) && !co_await finishResponse(stream, node, pending)) co_return;
    if (!keepAlive) {
      // Closing the socket sends the FIN behind the response; a shutdown first would
      // only cost a syscall. A client that pipelined more requests gets a lingering
      // close instead: closing on bytes it may still be sending would reset the
      // connection, and a reset can discard the answer before the client reads it.
      if (buffer.size() > 0) co_await lingeringClose(tcp, node);
      co_return;
    }
    // The connection is kept: set it up for readNow (once; later calls only check). The
    // first request was read as usual, so a connection used once costs no extra syscall.
    if constexpr (std::is_same_v<Stream, tcp::socket>) watchPeerClose(stream);
  }
}

asio::awaitable<void> session(ConnectionSlot slot, Worker& worker, tcp::socket socket) {
  State* st = &slot.state();
  // Holds the sweep alive as long as this session is registered with it.
  const std::shared_ptr<Deadlines> deadlines = worker.deadlines;
  SessionNode node;
  Registration registration(worker, node);
  const std::shared_ptr<ssl::context> context = st->settings.tls ? st->currentTls() : nullptr;
  if (!context) {
    // For writeNow and readNow; async operations do not mind.
    error_code ignored;
    socket.non_blocking(true, ignored);
    node.deadline.socket = &socket;
    Deadlines::Registration timed(*deadlines, node.deadline);
    co_await serve(*st, worker, socket, node);
    co_return;
  }
  ssl::stream<tcp::socket> tls(std::move(socket), *context);
  node.deadline.socket = &tls.next_layer();
  Deadlines::Registration timed(*deadlines, node.deadline);
  Deadlines::after(node.deadline, st->settings.readTimeout);
  auto [ec] = co_await tls.async_handshake(ssl::stream_base::server, kTuple);
  if (ec) {
    spdlog::debug("http server: TLS handshake failed: {}", ec.message());
    co_return;
  }
  // No close_notify on the way out: waiting for the peer's reply would hold the
  // connection for nothing, and HTTP framing already delimits every message.
  co_await serve(*st, worker, tls, node);
}

asio::awaitable<void> listen(std::shared_ptr<State> st, Worker& worker) {
  for (;;) {
    auto [ec, socket] = co_await worker.acceptor->async_accept(kTuple);
    if (ec) {
      if (worker.stopping || ec == asio::error::operation_aborted || !worker.acceptor->is_open()) {
        co_return;
      }
      // Typically EMFILE: back off a little instead of spinning on the error.
      if (shouldWarn(st->lastWarnMs)) spdlog::warn("http server: accept failed: {}", ec.message());
      asio::steady_timer pause(worker.ctx, std::chrono::milliseconds(10));
      co_await pause.async_wait(kTuple);
      continue;
    }
    if (st->live.fetch_add(1, std::memory_order_relaxed) >= st->settings.maxConnections) {
      st->live.fetch_sub(1, std::memory_order_relaxed);
      if (shouldWarn(st->lastWarnMs)) {
        spdlog::warn("http server: {} connections open, closing new ones",
                     st->settings.maxConnections);
      }
      error_code ignored;
      socket.close(ignored);
      continue;
    }
    ConnectionSlot slot(st);
    st->accepted.fetch_add(1, std::memory_order_relaxed);
    error_code ignored;
    socket.set_option(tcp::no_delay(true), ignored);
    asio::co_spawn(worker.ctx, session(std::move(slot), worker, std::move(socket)),
                   [](std::exception_ptr e) { logEscaped("session", e); });
  }
}

void stopWorker(Worker& w) {
  if (w.stopping) return;
  w.stopping = true;
  w.draining = true;
  if (w.acceptor) {
    error_code ignored;
    w.acceptor->close(ignored);
  }
  // cancel() completes the pending read later, so the list stays intact while we walk it.
  for (SessionNode* n = w.sessions; n != nullptr; n = n->next) {
    if (n->idle && n->deadline.socket != nullptr) {
      error_code ignored;
      n->deadline.socket->cancel(ignored);
    }
  }
}

ssl::context loadTls(const TlsFiles& files) {
  ssl::context ctx(ssl::context::tls_server);
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::single_dh_use);
  SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION);
  error_code ec;
  ctx.use_certificate_chain_file(files.certFile, ec);
  if (ec) {
    throw std::runtime_error("cannot load TLS certificate " + files.certFile + ": " + ec.message());
  }
  ctx.use_private_key_file(files.keyFile, ssl::context::pem, ec);
  if (ec) {
    throw std::runtime_error("cannot load TLS key " + files.keyFile + ": " + ec.message());
  }
  if (SSL_CTX_check_private_key(ctx.native_handle()) != 1) {
    throw std::runtime_error("TLS key " + files.keyFile + " does not match certificate " +
                             files.certFile);
  }
  if (!files.clientCaFile.empty()) {
    ctx.load_verify_file(files.clientCaFile, ec);
    if (ec) {
      throw std::runtime_error("cannot load TLS client CA " + files.clientCaFile + ": " +
                               ec.message());
    }
    // The CA names go in the certificate request, so that a client picks the right one.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(files.clientCaFile.c_str())) {
      SSL_CTX_set_client_CA_list(ctx.native_handle(), names);
    }
    ctx.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
  }
  return ctx;
}

void openAcceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint) {
  error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.set_option(ReusePort(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                             std::to_string(endpoint.port()) + ": " + ec.message());
  }
}

// SO_REUSEPORT would let us silently share a fixed port with another process that also
// uses it; a plain bind first turns that misconfiguration into "address in use".
void probeExclusive(const tcp::endpoint& endpoint, asio::io_context& ctx) {
  tcp::acceptor probe(ctx);
  error_code ec;
  probe.open(endpoint.protocol(), ec);
  if (!ec) probe.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) probe.bind(endpoint, ec);
  if (ec) {
    throw std::runtime_error("cannot listen on " + endpoint.address().to_string() + ":" +
                             std::to_string(endpoint.port()) + ": " + ec.message());
  }
}

}  // namespace

bool isAbsoluteForm(std::string_view target) {
  auto startsWith = [target](std::string_view scheme) {
    return target.size() > scheme.size() && beast::iequals(target.substr(0, scheme.size()), scheme);
  };
  return startsWith("http://") || startsWith("https://");
}

struct HttpServer::Impl {
  IoPool& pool;
  std::shared_ptr<State> state;
  bool started = false;
  bool stopped = false;

  // Runs `fn` where it may touch the worker: on its thread while the pool runs, inline
  // when nothing runs the context (before start, after pool.stop) or we already are on it.
  template <class Fn>
  void runOn(asio::io_context& ctx, Fn fn) {
    if (!pool.running() || ctx.get_executor().running_in_this_thread()) {
      fn();
      return;
    }
    std::promise<void> done;
    auto finished = done.get_future();
    asio::post(ctx, [&fn, &done] {
      fn();
      done.set_value();
    });
    if (finished.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      spdlog::error("http server: io thread did not respond to stop");
    }
  }
};

HttpServer::HttpServer(IoPool& pool, ServerSettings settings, Handler handler)
    : impl_(std::make_unique<Impl>(Impl{pool, std::make_shared<State>()})) {
  impl_->state->settings = std::move(settings);
  impl_->state->handler = std::move(handler);
}

HttpServer::HttpServer(IoPool& pool, ServerSettings settings, ReplyHandler handler)
    : impl_(std::make_unique<Impl>(Impl{pool, std::make_shared<State>()})) {
  impl_->state->settings = std::move(settings);
  impl_->state->replyHandler = std::move(handler);
}

HttpServer::~HttpServer() {
  if (impl_->started) stop();
}

// One acceptor per io_context, all bound to the same port with SO_REUSEPORT: the kernel
// spreads incoming connections over the threads, and each connection then lives on the
// thread that accepted it. Compared with one acceptor handing sockets round-robin to the
// other contexts, nothing crosses threads (no post per connection, no shared acceptor)
// and a busy thread does not accept connections it cannot serve soon.
void HttpServer::start() {
  if (impl_->started) return;
  State& st = *impl_->state;
  if (st.settings.tls) st.tls = std::make_shared<ssl::context>(loadTls(*st.settings.tls));

  error_code ec;
  const auto address = asio::ip::make_address(st.settings.address, ec);
  if (ec) throw std::runtime_error("invalid listen address '" + st.settings.address + "'");
  uint16_t port = st.settings.port;
  if (port != 0) probeExclusive(tcp::endpoint(address, port), impl_->pool.context(0));

  for (std::size_t i = 0; i < impl_->pool.size(); ++i) {
    auto worker = std::make_unique<Worker>(impl_->pool.context(i));
    worker->deadlines = Deadlines::create(
        worker->ctx.get_executor(), Deadlines::tickFor(std::min({st.settings.readTimeout,
                                                  st.settings.idleTimeout,
                                                  std::chrono::milliseconds(kWriteTimeout)})));
    worker->acceptor.emplace(worker->ctx);
    // With port 0 the first bind picks the port; the others join it.
    openAcceptor(*worker->acceptor, tcp::endpoint(address, port));
    if (i == 0) port = worker->acceptor->local_endpoint().port();
    st.workers.push_back(std::move(worker));
  }
  st.port = port;
  impl_->started = true;
  for (auto& worker : st.workers) {
    asio::co_spawn(worker->ctx, listen(impl_->state, *worker),
                   [](std::exception_ptr e) { logEscaped("listener", e); });
  }
}

void HttpServer::drain() {
  if (!impl_->started || impl_->stopped) return;
  for (auto& worker : impl_->state->workers) {
    Worker* w = worker.get();
    impl_->runOn(w->ctx, [w] { w->draining = true; });
  }
}

Status HttpServer::reloadTls() {
  State& st = *impl_->state;
  if (!st.settings.tls) return {};
  try {
    auto fresh = std::make_shared<ssl::context>(loadTls(*st.settings.tls));
    std::lock_guard lock(st.tlsMu);
    st.tls = std::move(fresh);
  } catch (const std::exception& e) {
    return Error::invalid(e.what());
  }
  return {};
}

void HttpServer::stop() {
  if (!impl_->started || impl_->stopped) return;
  impl_->stopped = true;
  for (auto& worker : impl_->state->workers) {
    Worker* w = worker.get();
    impl_->runOn(w->ctx, [w] { stopWorker(*w); });
  }
}

uint16_t HttpServer::port() const { return impl_->state->port; }

std::size_t HttpServer::liveConnections() const {
  return impl_->state->live.load(std::memory_order_relaxed);
}

std::uint64_t HttpServer::acceptedConnections() const {
  return impl_->state->accepted.load(std::memory_order_relaxed);
}

}  // namespace eg::net
