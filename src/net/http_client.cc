#include "net/http_client.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <functional>
#include <optional>
#include <type_traits>
#include <unordered_map>
#include <utility>

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>

#include "common/http_syntax.h"
#include "net/deadlines.h"
#include "net/parse_buffered.h"
#include "net/read_now.h"
#include "net/response_reader.h"
#include "net/simple_response.h"
#include "net/write_now.h"

namespace eg::net {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace ssl = asio::ssl;
namespace urls = boost::urls;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using Clock = std::chrono::steady_clock;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr std::uint32_t kResponseHeaderLimit = 64 * 1024;
// Interim (1xx) responses skipped before the final one; more is a misbehaving origin.
constexpr int kMaxInterimResponses = 8;
constexpr std::string_view kUserAgent = "event-gateway";
// Over TLS, bodies up to one record travel in the head's buffer: one record, one syscall.
constexpr std::size_t kCoalesceLimit = 16 * 1024;
// Deadlines of calls are checked this often: a timeout fires at most this late.
constexpr std::chrono::milliseconds kDeadlineTick{10};
constexpr std::size_t kMinRead = 4096;
constexpr std::size_t kMaxRead = 64 * 1024;
// parseSimpleResponse needs the whole response in the connection's buffer, and a
// pooled connection keeps its buffer's capacity: larger bodies go to Beast's parser,
// which takes them out of the buffer as they arrive.
constexpr std::size_t kSimpleMaxBody = 64 * 1024;

bool isDefaultPort(bool tls, uint16_t port) { return port == (tls ? 443 : 80); }

void appendHost(std::string& out, const std::string& host) {
  // An IPv6 literal is bracketed in Host and in URLs.
  if (host.find(':') != std::string::npos) {
    out += '[';
    out += host;
    out += ']';
  } else {
    out += host;
  }
}

void appendNumber(std::string& out, std::uint64_t n) {
  char digits[24];
  auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), n);
  out.append(digits, end);
}

// Stateless client errors are thread-safe to build; keeping them here keeps send() short.
Error timeoutError(const Url& url, std::string_view what, std::chrono::milliseconds after) {
  return Error::timeout(std::string(what) + " " + url.origin() + " timed out after " +
                        std::to_string(after.count()) + " ms");
}

Error unavailableError(const Url& url, std::string_view what, const error_code& ec) {
  return Error::unavailable(std::string(what) + " " + url.origin() + ": " + ec.message());
}

// Everything a pool needs from its client; shared so that pooled TLS streams never
// outlive the ssl::context they were created from.
struct Shared {
  HttpClient::Settings settings;
  ssl::context tls{ssl::context::tls_client};
  std::uint64_t id = 0;
  std::atomic<bool> closed{false};
};

std::atomic<std::uint64_t> nextClientId{1};

struct Connection {
  std::optional<tcp::socket> plain;
  // Small bodies are coalesced into the head over TLS: one record, one syscall.
  std::optional<ssl::stream<tcp::socket>> tls;
  beast::flat_buffer buffer;  // response bytes, reused for every response on this connection
  std::string head;           // serialized request head, reused likewise
  Clock::time_point idleSince;
  Deadlines::Entry deadline;  // registered while a call uses the connection

  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }
};

// Registers the connection a call is using with the deadline sweep, and only that one:
// pooled idle connections cost the sweep nothing.
class InUse {
 public:
  explicit InUse(Deadlines& deadlines) : deadlines_(deadlines) {}
  ~InUse() { detach(); }
  InUse(const InUse&) = delete;
  InUse& operator=(const InUse&) = delete;

  void attach(Connection& c) {
    detach();
    c.deadline.socket = &c.socket();
    deadlines_.add(c.deadline);
    conn_ = &c;
  }
  void detach() {
    if (conn_ == nullptr) return;
    Deadlines::clear(conn_->deadline);
    deadlines_.remove(conn_->deadline);
    conn_ = nullptr;
  }

 private:
  Deadlines& deadlines_;
  Connection* conn_ = nullptr;
};

struct OriginView {
  bool tls;
  std::string_view host;
  uint16_t port;
};

struct OriginKey {
  bool tls;
  std::string host;
  uint16_t port;
  operator OriginView() const { return {tls, host, port}; }  // NOLINT: lookup by view
};

struct OriginHash {
  using is_transparent = void;
  std::size_t operator()(const OriginView& o) const {
    return std::hash<std::string_view>{}(o.host) ^ (std::size_t{o.port} << 1) ^ (o.tls ? 1 : 0);
  }
  std::size_t operator()(const OriginKey& o) const { return (*this)(OriginView(o)); }
};

struct OriginEqual {
  using is_transparent = void;
  static bool eq(const OriginView& a, const OriginView& b) {
    return a.tls == b.tls && a.port == b.port && a.host == b.host;
  }
  bool operator()(const OriginKey& a, const OriginKey& b) const { return eq(a, b); }
  bool operator()(const OriginKey& a, const OriginView& b) const { return eq(a, b); }
  bool operator()(const OriginView& a, const OriginKey& b) const { return eq(a, b); }
};

// Idle connections of one origin, oldest first (push_back on release, take from back).
using Bucket = std::vector<std::unique_ptr<Connection>>;

struct Pool {
  std::shared_ptr<const Shared> shared;
  std::unordered_map<OriginKey, Bucket, OriginHash, OriginEqual> buckets;

  Bucket& bucket(const Url& url) {
    auto it = buckets.find(OriginView{url.tls, url.host, url.port});
    if (it == buckets.end()) {
      it = buckets.emplace(OriginKey{url.tls, url.host, url.port}, Bucket{}).first;
    }
    return it->second;
  }
};

// The pools of one io_context. Living in the context as a service ties the lifetime of
// the pooled sockets to the context that owns them, and keeps every pool on one thread.
class PoolService : public asio::execution_context::service {
 public:
  static asio::execution_context::id id;

  explicit PoolService(asio::execution_context& ctx) : asio::execution_context::service(ctx) {}

  Deadlines& deadlines(const asio::any_io_executor& ex) {
    if (!deadlines_) deadlines_ = Deadlines::create(ex, kDeadlineTick);
    return *deadlines_;
  }

  Pool& pool(const std::shared_ptr<const Shared>& shared) {
    if (last_ != nullptr && last_->shared.get() == shared.get()) return *last_;
    auto it = pools_.find(shared->id);
    if (it == pools_.end()) {
      // A new client: drop the pools of clients that have been destroyed meanwhile.
      std::erase_if(pools_, [](const auto& p) { return p.second->shared->closed.load(); });
      it = pools_.emplace(shared->id, std::make_unique<Pool>(Pool{shared, {}})).first;
    }
    last_ = it->second.get();
    return *last_;
  }

 private:
  void shutdown() override {
    last_ = nullptr;
    pools_.clear();
    // Also frees the sweep's timer while the context's timer service still exists:
    // services are destroyed newest first, and that one was created after this one.
    if (deadlines_) deadlines_->stop();
  }

  std::shared_ptr<Deadlines> deadlines_;
  std::unordered_map<std::uint64_t, std::unique_ptr<Pool>> pools_;
  Pool* last_ = nullptr;
};

asio::execution_context::id PoolService::id;

std::unique_ptr<Connection> takeIdle(Bucket& bucket, Clock::time_point now,
                                     std::chrono::milliseconds idleTimeout) {
  if (bucket.empty()) return nullptr;
  std::unique_ptr<Connection> conn = std::move(bucket.back());
  bucket.pop_back();
  if (now - conn->idleSince <= idleTimeout) return conn;
  // The rest is older still.
  bucket.clear();
  return nullptr;
}

void release(Bucket& bucket, std::unique_ptr<Connection> conn, std::size_t maxIdle) {
  if (maxIdle == 0) return;
  if (bucket.size() >= maxIdle) bucket.erase(bucket.begin());
  conn->idleSince = Clock::now();
  bucket.push_back(std::move(conn));
}

// Host and the framing headers are the client's business, not the caller's.
bool isReserved(std::string_view name) {
  return isFramingHeader(name) || beast::iequals(name, "host");
}

// Header injection would let a caller smuggle a second request onto a pooled connection.
Status validateHeaders(const std::vector<std::pair<std::string, std::string>>& headers) {
  for (const auto& [name, value] : headers) {
    if (!isHttpToken(name)) return Error::invalid("invalid header name '" + name + "'");
    if (!isHttpFieldValue(value)) return Error::invalid("invalid value for header '" + name + "'");
  }
  return {};
}

// Fixed headers were checked by their owner when they were configured.
Status validateHeaders(const ClientRequest& req) { return validateHeaders(req.headers); }

using Headers = std::vector<std::pair<std::string, std::string>>;

// Appends `headers` but the reserved ones; true when one of them is User-Agent.
bool appendHeaders(std::string& out, const Headers& headers) {
  bool userAgent = false;
  for (const auto& [name, value] : headers) {
    if (isReserved(name)) continue;
    if (beast::iequals(name, "user-agent")) userAgent = true;
    out += name;
    out += ": ";
    out += value;
    out += "\r\n";
  }
  return userAgent;
}

// The head up to Content-Length: request line, Host, `headers` but the reserved ones,
// and a User-Agent unless one of them is.
void writeHeadStart(std::string& out, http::verb method, const Url& url,
                    const Headers& headers) {
  out += http::to_string(method);
  out += ' ';
  out += url.target;
  out += " HTTP/1.1\r\nHost: ";
  appendHost(out, url.host);
  if (!isDefaultPort(url.tls, url.port)) {
    out += ':';
    appendNumber(out, url.port);
  }
  out += "\r\n";
  if (!appendHeaders(out, headers)) {
    out += "User-Agent: ";
    out += kUserAgent;
    out += "\r\n";
  }
}

// Serializes the request head into `out` (reused, so no allocation once warm).
void writeHead(std::string& out, const ClientRequest& req, const Url& url,
               std::string_view body) {
  if (req.fixedHead != nullptr) {
    out.assign(*req.fixedHead);
    appendHeaders(out, req.headers);
  } else {
    out.clear();
    writeHeadStart(out, req.method, url, req.headers);
  }
  char digits[24];
  const auto [end, ec] = std::to_chars(std::begin(digits), std::end(digits), body.size());
  out += "Content-Length: ";
  out.append(digits, end);
  out += "\r\n\r\n";
}

asio::awaitable<Result<tcp::resolver::results_type>> resolve(const asio::any_io_executor& ex,
                                                             const Url& url,
                                                             Clock::time_point deadline,
                                                             std::chrono::milliseconds timeout) {
  // The resolver runs getaddrinfo on a private thread and cannot really be cancelled,
  // so the deadline is a timer racing it rather than a cancellation of it.
  struct State {
    explicit State(const asio::any_io_executor& e) : resolver(e), timer(e) {}
    tcp::resolver resolver;
    asio::steady_timer timer;
    error_code ec;
    tcp::resolver::results_type results;
    bool done = false;
  };
  auto state = std::make_shared<State>(ex);
  state->timer.expires_at(deadline);
  char port[8];
  auto [end, pec] = std::to_chars(std::begin(port), std::end(port), url.port);
  state->resolver.async_resolve(
      url.host, std::string_view(port, end - port),
      [state](error_code ec, tcp::resolver::results_type results) {
        state->ec = ec;
        state->results = std::move(results);
        state->done = true;
        state->timer.cancel();
      });
  if (!state->done) co_await state->timer.async_wait(kTuple);
  if (!state->done) {
    state->resolver.cancel();
    co_return timeoutError(url, "resolving", timeout);
  }
  if (state->ec) co_return unavailableError(url, "cannot resolve", state->ec);
  co_return std::move(state->results);
}

// Connects `conn` (already attached to the deadline sweep) by `deadline`.
asio::awaitable<Result<std::unique_ptr<Connection>>> connect(const asio::any_io_executor& ex,
                                                             Shared& shared, const Url& url,
                                                             Deadlines& deadlines,
                                                             std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  auto conn = std::make_unique<Connection>();
  if (url.tls) {
    conn->tls.emplace(ex, shared.tls);
  } else {
    conn->plain.emplace(ex);
  }
  InUse inUse(deadlines);
  inUse.attach(*conn);
  tcp::socket& socket = conn->socket();

  error_code ec;
  const auto address = asio::ip::make_address(url.host, ec);
  const bool isAddress = !ec;
  if (isAddress) {
    Deadlines::set(conn->deadline, deadline);
    std::tie(ec) = co_await socket.async_connect(tcp::endpoint(address, url.port), kTuple);
  } else {
    auto endpoints = co_await resolve(ex, url, deadline, timeout);
    if (!endpoints) co_return std::move(endpoints).error();
    Deadlines::set(conn->deadline, deadline);
    tcp::endpoint ignored;
    std::tie(ec, ignored) = co_await asio::async_connect(socket, *endpoints, kTuple);
  }
  if (ec && conn->deadline.expired) co_return timeoutError(url, "connecting to", timeout);
  if (ec) co_return unavailableError(url, "cannot connect to", ec);
  socket.set_option(tcp::no_delay(true), ec);
  socket.non_blocking(true, ec);  // for writeNow and readNow; async operations do not mind

  if (url.tls) {
    auto& stream = *conn->tls;
    // SNI carries names only, never address literals.
    if (!isAddress && !SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
      co_return Error::unavailable("cannot set TLS server name for " + url.origin());
    }
    if (shared.settings.verifyPeer) {
      stream.set_verify_mode(ssl::verify_peer);
      stream.set_verify_callback(ssl::host_name_verification(url.host));
    } else {
      stream.set_verify_mode(ssl::verify_none);
    }
    Deadlines::after(conn->deadline, timeout);
    auto [hec] = co_await stream.async_handshake(ssl::stream_base::client, kTuple);
    if (hec && conn->deadline.expired) co_return timeoutError(url, "TLS handshake with", timeout);
    if (hec) co_return unavailableError(url, "TLS handshake failed with", hec);
  }
  co_return std::move(conn);
}

struct Exchange {
  std::optional<Error> error;
  // Nothing came back on a connection taken from the pool: the peer closed it while it
  // was idle, and the request can be sent again on a fresh one.
  bool retryable = false;
  bool keepAlive = false;
  ClientResponse response;
};

bool isHttpParseError(const error_code& ec) {
  static const auto& httpCategory = make_error_code(http::error::bad_method).category();
  return ec.category() == httpCategory && ec != http::error::end_of_stream &&
         ec != http::error::partial_message;
}

// What readResponse found.
struct ReadOutcome {
  boost::system::error_code ec;
  bool simple = false;     // read by parseSimpleResponse: the parser saw nothing
  bool keepAlive = false;  // when simple
};

// Reading one response is a loop of: look at what the buffer holds (readBuffered),
// read more, look at how the read ended (readEnded). The usual response arrives in one
// read and is simple (see parseSimpleResponse); anything else goes to `parser`, from
// its first byte. Plain functions, so that the loop runs in exchange's own frame.
enum class ReadStep { kDone, kMore };

ReadStep readBuffered(beast::flat_buffer& buffer, ResponseReader& parser,
                      ClientResponse& response, std::size_t maxBody, bool& trySimple,
                      ReadOutcome& outcome) {
  if (trySimple && buffer.size() > 0) {
    const auto data = buffer.data();
    std::size_t consumed = 0;
    const std::string_view bytes(static_cast<const char*>(data.data()), data.size());
    switch (parseSimpleResponse(bytes, std::min(maxBody, kSimpleMaxBody), kResponseHeaderLimit,
                                response, consumed, outcome.keepAlive)) {
      case SimpleParse::kDone:
        buffer.consume(consumed);
        outcome.simple = true;
        return ReadStep::kDone;
      case SimpleParse::kNeedMore:
        break;
      case SimpleParse::kNotSimple:
        trySimple = false;
        break;
    }
  }
  if (!trySimple) {
    if (outcome.ec = parseBuffered(parser, buffer); outcome.ec) return ReadStep::kDone;
    if (parser.is_done()) return ReadStep::kDone;
  }
  return ReadStep::kMore;
}

// After a read that ended with `ec`: kMore to look at the buffer again.
ReadStep readEnded(const error_code& ec, beast::flat_buffer& buffer, ResponseReader& parser,
                   bool& trySimple, ReadOutcome& outcome) {
  if (ec == asio::error::eof || ec == ssl::error::stream_truncated) {
    if (trySimple) {
      // A response that ends with the connection is never simple: let the parser
      // have what arrived.
      trySimple = false;
      if (outcome.ec = parseBuffered(parser, buffer); outcome.ec) return ReadStep::kDone;
      if (parser.is_done()) return ReadStep::kDone;
    }
    if (!parser.got_some()) {
      outcome.ec = http::error::end_of_stream;
    } else {
      parser.put_eof(outcome.ec);
    }
    return ReadStep::kDone;
  }
  if (ec) {
    outcome.ec = ec;
    return ReadStep::kDone;
  }
  return ReadStep::kMore;
}

// Sets up `out` for sending the head in `conn` and then `body`. Over TLS a small body
// joins the head (two buffers would make two records); plain TCP gathers both buffers
// in one writev.
void requestBuffers(Connection& conn, std::string_view body,
                    std::array<asio::const_buffer, 2>& out) {
  const bool coalesced = conn.tls && !body.empty() && body.size() <= kCoalesceLimit;
  if (coalesced) conn.head += body;
  out = {asio::buffer(conn.head), coalesced ? asio::const_buffer() : asio::buffer(body)};
}

void writeFailed(const error_code& ec, const Connection& conn, const ClientRequest& req,
                 Exchange& x) {
  const Url& url = *req.url;
  if (conn.deadline.expired) {
    x.error = timeoutError(url, "request to", req.responseTimeout);
  } else {
    x.error = unavailableError(url, "cannot send request to", ec);
    x.retryable = true;
  }
}

// After a response was read: true when the exchange is over (x says how), false when
// it was an interim response and the final one is still to come.
bool responseRead(const ReadOutcome& read, const ResponseReader& parser, const Connection& conn,
                  const ClientRequest& req, std::size_t maxBody, int interim, Exchange& x) {
  const Url& url = *req.url;
  const error_code& ec = read.ec;
  if (ec) {
    if (conn.deadline.expired) {
      x.error = timeoutError(url, "request to", req.responseTimeout);
    } else if (ec == http::error::body_limit) {
      x.error = Error::invalid("response from " + url.origin() + " exceeds " +
                               std::to_string(maxBody) + " bytes");
    } else if (isHttpParseError(ec)) {
      x.error = Error::invalid("malformed response from " + url.origin() + ": " + ec.message());
    } else {
      x.error = unavailableError(url, "no response from", ec);
      x.retryable = interim == 0 && !parser.got_some() && conn.buffer.size() == 0;
    }
    return true;
  }
  const unsigned status = x.response.status;
  if (status / 100 == 1 && status != 101) {
    if (interim < kMaxInterimResponses) return false;
    x.error = Error::invalid("too many interim responses from " + url.origin());
    return true;
  }
  // Leftover bytes after a complete response mean the framing cannot be trusted.
  x.keepAlive = (read.simple ? read.keepAlive : parser.keep_alive()) &&
                conn.buffer.size() == 0 && status != 101;
  return true;
}

}  // namespace

std::string fixedRequestHead(http::verb method, const Url& url, const Headers& headers) {
  std::string out;
  writeHeadStart(out, method, url, headers);
  return out;
}

std::string Url::hostHeader() const {
  std::string out;
  appendHost(out, host);
  if (!isDefaultPort(tls, port)) {
    out += ':';
    appendNumber(out, port);
  }
  return out;
}

std::string Url::origin() const {
  std::string out = tls ? "https://" : "http://";
  appendHost(out, host);
  out += ':';
  appendNumber(out, port);
  return out;
}

Result<Url> Url::parse(std::string_view text) {
  auto parsed = urls::parse_uri(text);
  if (!parsed) {
    return Error::invalid("invalid URL '" + std::string(text) + "': " + parsed.error().message());
  }
  const urls::url_view& u = *parsed;
  Url url;
  if (u.scheme_id() == urls::scheme::http) {
    url.tls = false;
  } else if (u.scheme_id() == urls::scheme::https) {
    url.tls = true;
  } else {
    return Error::invalid("URL '" + std::string(text) + "' is not http or https");
  }
  if (u.has_userinfo()) {
    return Error::invalid("URL '" + std::string(text) + "' must not contain credentials");
  }
  switch (u.host_type()) {
    case urls::host_type::name:
      url.host = u.host_name();
      std::transform(url.host.begin(), url.host.end(), url.host.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      break;
    case urls::host_type::ipv4:
      url.host = u.host_ipv4_address().to_string();
      break;
    case urls::host_type::ipv6:
      url.host = u.host_ipv6_address().to_string();
      break;
    default:
      break;
  }
  if (url.host.empty()) return Error::invalid("URL '" + std::string(text) + "' has no host");

  url.port = url.tls ? 443 : 80;
  if (u.has_port() && !u.port().empty()) {
    unsigned value = 0;
    const std::string_view port = u.port();
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
      return Error::invalid("URL '" + std::string(text) + "' has an invalid port");
    }
    url.port = static_cast<uint16_t>(value);
  }

  url.target = u.encoded_path();
  // With an authority the path is empty or absolute; anything else is a mangled authority
  // ("host:12ab/" parses as port 12 and path "ab/").
  if (!url.target.empty() && url.target.front() != '/') {
    return Error::invalid("URL '" + std::string(text) + "' has an invalid authority");
  }
  if (url.target.empty()) url.target = "/";
  if (u.has_query()) {
    url.target += '?';
    url.target += u.encoded_query();
  }
  return url;
}

std::string_view ClientResponse::header(std::string_view name) const {
  const char* p = headerLines_.data();
  const char* const end = p + headerLines_.size();
  while (p < end) {
    const auto* lf = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* const lineEnd = lf == nullptr ? end : lf + 1;
    // "Name: value\r\n": the name is followed by ": ".
    if (static_cast<std::size_t>(lineEnd - p) >= name.size() + 4 && p[name.size()] == ':' &&
        beast::iequals(std::string_view(p, name.size()), name)) {
      return std::string_view(p + name.size() + 2, static_cast<std::size_t>(lineEnd - p) -
                                                       name.size() - 4);
    }
    p = lineEnd;
  }
  return {};
}

// Names are tokens and values hold no CR or LF (the parser checked them, and callers
// of the tests pass plain ones), so the lines split unambiguously.
void ClientResponse::addHeader(std::string_view name, std::string_view value) {
  // One allocation for the usual handful of headers.
  if (headerLines_.empty()) headerLines_.reserve(512);
  const std::size_t at = headerLines_.size();
  headerLines_.resize(at + name.size() + value.size() + 4);
  char* p = headerLines_.data() + at;
  std::memcpy(p, name.data(), name.size());
  p += name.size();
  *p++ = ':';
  *p++ = ' ';
  std::memcpy(p, value.data(), value.size());
  p += value.size();
  *p++ = '\r';
  *p = '\n';
}

struct HttpClient::Impl {
  std::shared_ptr<Shared> shared;
};

HttpClient::HttpClient() : HttpClient(Settings{}) {}

HttpClient::HttpClient(Settings settings) : impl_(std::make_unique<Impl>()) {
  auto shared = std::make_shared<Shared>();
  shared->settings = settings;
  shared->id = nextClientId.fetch_add(1, std::memory_order_relaxed);
  ssl::context& tls = shared->tls;
  tls.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3);
  SSL_CTX_set_min_proto_version(tls.native_handle(), TLS1_2_VERSION);
  error_code ec;
  // Without a system CA store every verified handshake fails, which the call reports.
  tls.set_default_verify_paths(ec);
  tls.set_verify_mode(settings.verifyPeer ? ssl::verify_peer : ssl::verify_none);
  impl_->shared = std::move(shared);
}

HttpClient::~HttpClient() { impl_->shared->closed.store(true); }

asio::awaitable<Result<ClientResponse>> HttpClient::send(ClientRequest request) {
  if (request.url == nullptr) co_return Error::invalid("request has no URL");
  const Url& url = *request.url;
  Shared& shared = *impl_->shared;
  if (auto valid = validateHeaders(request); !valid) co_return std::move(valid).error();
  const std::string_view body =
      request.bodyView.empty() ? std::string_view(request.body) : request.bodyView;
  const auto ex = co_await asio::this_coro::executor;
  PoolService& service =
      asio::use_service<PoolService>(asio::query(ex, asio::execution::context));
  Pool& pool = service.pool(impl_->shared);
  Deadlines& deadlines = service.deadlines(ex);
  // Node-based map: the reference stays valid across the suspensions below.
  Bucket& bucket = pool.bucket(url);

  std::unique_ptr<Connection> conn = takeIdle(bucket, Clock::now(), shared.settings.idleTimeout);
  bool reused = conn != nullptr;
  InUse inUse(deadlines);
  const std::size_t maxBody = shared.settings.maxResponseBody;
  Exchange x;
  for (int attempt = 0;; ++attempt) {
    if (!conn) {
      auto fresh = co_await connect(ex, shared, url, deadlines, request.connectTimeout);
      if (!fresh) co_return std::move(fresh).error();
      conn = std::move(fresh).value();
      reused = false;
    }
    inUse.attach(*conn);
    Connection& c = *conn;
    // A connection's second exchange sets it up for readNow (once; later calls only
    // check): a connection used once costs no extra syscall.
    if (reused && c.plain) watchPeerClose(*c.plain);
    writeHead(c.head, request, url, body);
    x = Exchange{};
    // The exchange, in this frame rather than a coroutine of its own: the request, then
    // responses until a final one. Each await names the stream: TLS or plain TCP.
    // (if/else, not conditional expressions: GCC 12 mishandles co_await inside one.)
    Deadlines::after(c.deadline, request.responseTimeout);
    std::array<asio::const_buffer, 2> out;
    requestBuffers(c, body, out);
    error_code wec;
    if (c.tls || !writeNow(*c.plain, out, wec)) {
      std::size_t wn = 0;
      if (c.tls) {
        std::tie(wec, wn) = co_await asio::async_write(*c.tls, out, kTuple);
      } else {
        std::tie(wec, wn) = co_await asio::async_write(*c.plain, out, kTuple);
      }
    }
    if (wec) writeFailed(wec, c, request, x);
    for (int interim = 0; !wec; ++interim) {
      x.response.status = 0;
      x.response.clearHeaders();
      x.response.body.clear();
      ResponseReader parser(x.response);
      parser.eager(true);
      parser.header_limit(kResponseHeaderLimit);
      parser.body_limit(maxBody);
      const bool head = request.method == http::verb::head;
      if (head) parser.skip(true);
      ReadOutcome read;
      bool trySimple = !head;
      beast::flat_buffer& buffer = c.buffer;
      while (readBuffered(buffer, parser, x.response, maxBody, trySimple, read) ==
             ReadStep::kMore) {
        const std::size_t room = std::clamp(buffer.capacity() - buffer.size(), kMinRead, kMaxRead);
        error_code rec;
        std::size_t n = 0;
        if (c.tls) {
          std::tie(rec, n) = co_await c.tls->async_read_some(buffer.prepare(room), kTuple);
        } else if (!readNow(*c.plain, buffer.prepare(room), n, rec)) {
          // The usual case right after the request went out: the function has not
          // answered yet, and the read waits without a receive that would fail.
          std::tie(rec, n) = co_await c.plain->async_read_some(buffer.prepare(room), kTuple);
          readDone(*c.plain, rec, n, room);
        }
        buffer.commit(n);
        if (readEnded(rec, buffer, parser, trySimple, read) == ReadStep::kDone) break;
      }
      if (responseRead(read, parser, c, request, maxBody, interim, x)) break;
    }
    inUse.detach();
    if (!x.error) {
      if (x.keepAlive) release(bucket, std::move(conn), shared.settings.maxIdlePerOrigin);
      co_return std::move(x.response);
    }
    if (reused && x.retryable && attempt == 0) {
      conn.reset();
      continue;
    }
    co_return std::move(*x.error);
  }
}

}  // namespace eg::net
