#include "net/http_server.h"

#include <atomic>
#include <stdexcept>
#include <string>
#include <thread>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "common/json.h"
#include "net/net_test_util.h"

namespace eg::net {
namespace {

using namespace testing;

std::string errorMessage(const std::string& body) {
  auto parsed = parseJson(body);
  if (!parsed) return "<not json>";
  const auto* errors = parsed->as_object().if_contains("errors");
  if (errors == nullptr || errors->as_array().empty()) return "<no errors>";
  return std::string(errors->as_array()[0].as_object().at("message").as_string());
}

// Echoes the request; /throw throws, /slow answers after 300 ms and flags when it began.
struct EchoHandler {
  std::atomic<int>* slowStarted = nullptr;

  asio::awaitable<Response> operator()(Request& req) const {
    if (req.target() == "/throw") throw std::runtime_error("handler exploded");
    if (req.target() == "/slow") {
      if (slowStarted != nullptr) ++*slowStarted;
      asio::steady_timer timer(co_await asio::this_coro::executor, std::chrono::milliseconds(300));
      co_await timer.async_wait(asio::use_awaitable);
    }
    if (req.target() == "/framed" || req.target() == "/stale") {
      // Framed by the handler already: right (/framed) or with a wrong length (/stale).
      Response res{http::status::ok, req.version()};
      res.keep_alive(true);
      res.body() = "framed";
      if (req.target() == "/framed") {
        res.prepare_payload();
      } else {
        res.set(http::field::content_length, "99");
      }
      co_return res;
    }
    if (req.target() == "/nocontent") {
      // Unframed, with a body a 204 must not carry.
      Response res{http::status::no_content, 11};
      res.body() = "dropped";
      co_return res;
    }
    Response res{http::status::ok, 11};
    res.set(http::field::content_type, "text/plain");
    res.set("X-Method", std::string(req.method_string()));
    res.set("X-Target", std::string(req.target()));
    res.body() = req.target() == "/hello" ? std::string("hello") : req.body();
    co_return res;
  }
};

class HttpServerTest : public ::testing::Test {
 protected:
  void startServer(ServerSettings settings = {}, std::size_t threads = 1) {
    settings.address = "127.0.0.1";
    pool_ = std::make_unique<IoPool>(threads);
    server_ = std::make_unique<HttpServer>(*pool_, std::move(settings), EchoHandler{&slowStarted_});
    server_->start();
    pool_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (pool_) pool_->stop();
    server_.reset();
    pool_.reset();
  }
  uint16_t port() const { return server_->port(); }

  std::atomic<int> slowStarted_{0};
  std::unique_ptr<IoPool> pool_;
  std::unique_ptr<HttpServer> server_;
};

std::string post(std::string_view target, std::string_view body, std::string_view extra = "") {
  return std::string("POST ") + std::string(target) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " +
         std::to_string(body.size()) + "\r\n" + std::string(extra) + "\r\n" + std::string(body);
}

std::string get(std::string_view target, std::string_view extra = "") {
  return "GET " + std::string(target) + " HTTP/1.1\r\nHost: t\r\n" + std::string(extra) + "\r\n";
}

// Sends `request` on `c` and reads its answer (the head only, with `headOnly`).
std::optional<RawResponse> roundTrip(RawConn& c, std::string_view request,
                                     bool headOnly = false) {
  if (!c.send(request)) return std::nullopt;
  return c.readResponse(5s, headOnly);
}

TEST_F(HttpServerTest, AnswersWithTheHandlersResponse) {
  startServer();
  ASSERT_NE(port(), 0);
  RawConn c(port());
  ASSERT_TRUE(c.send(post("/echo?x=1", "payload")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "payload");
  EXPECT_EQ(r->header("content-length"), "7");
  EXPECT_EQ(r->header("content-type"), "text/plain");
  EXPECT_EQ(r->header("x-method"), "post");  // RawResponse lower-cases the head
  EXPECT_EQ(r->header("x-target"), "/echo?x=1");
}

TEST_F(HttpServerTest, TheServerHasTheLastWordOnFraming) {
  startServer();
  RawConn c(port());
  for (const char* target : {"/framed", "/stale", "/framed"}) {
    ASSERT_TRUE(c.send(get(target)));
    auto r = c.readResponse();
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->body, "framed") << target;
    EXPECT_EQ(r->header("content-length"), "6") << target;
  }
  EXPECT_EQ(server_->acceptedConnections(), 1u);

  // An HTTP/1.0 client without keep-alive gets no keep-alive, whatever the handler said.
  RawConn old(port());
  ASSERT_TRUE(old.send("GET /framed HTTP/1.0\r\nHost: t\r\n\r\n"));
  auto r = old.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "framed");
  EXPECT_EQ(r->header("connection").find("keep-alive"), std::string::npos);
  EXPECT_TRUE(old.waitClosed(std::chrono::seconds(2)));
}

// Handlers may leave framing out (the echo handler does): the server writes it.
TEST_F(HttpServerTest, UnframedResponsesAreFramedAsTheyAreWritten) {
  startServer();
  // HTTP/1.0 asking for keep-alive gets it, announced.
  RawConn old(port());
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(old.send("GET /hello HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
    auto r = old.readResponse();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->head.substr(0, 17), "http/1.0 200 ok\r\n");
    EXPECT_EQ(r->header("content-length"), "5");
    EXPECT_EQ(r->header("connection"), "keep-alive");
    EXPECT_EQ(r->body, "hello");
  }
  EXPECT_FALSE(old.waitClosed(std::chrono::milliseconds(100)));

  // HTTP/1.1: no Connection field while the connection stays; a 204 goes without its
  // body and without a length, and the connection still serves the next request.
  RawConn c(port());
  auto none = roundTrip(c, get("/nocontent"), /*headOnly=*/true);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 204);
  EXPECT_EQ(none->header("content-length"), "");
  auto empty = roundTrip(c, post("/", ""));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->status, 200);
  EXPECT_EQ(empty->header("content-length"), "0");
  EXPECT_EQ(empty->header("connection"), "");
  EXPECT_EQ(empty->body, "");
}

TEST_F(HttpServerTest, KeepAliveServesRequestsOnOneConnection) {
  startServer();
  RawConn c(port());
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(post("/", "n" + std::to_string(i))));
    auto r = c.readResponse();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, "n" + std::to_string(i));
    EXPECT_EQ(r->header("connection"), "");
  }
  EXPECT_EQ(server_->acceptedConnections(), 1u);
}

TEST_F(HttpServerTest, AnswersPipelinedRequestsInOrder) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(post("/", "first") + post("/", "second") + get("/hello")));
  auto a = c.readResponse();
  auto b = c.readResponse();
  auto h = c.readResponse();
  ASSERT_TRUE(a && b && h);
  EXPECT_EQ(a->body, "first");
  EXPECT_EQ(b->body, "second");
  EXPECT_EQ(h->body, "hello");
}

TEST_F(HttpServerTest, AnswersARequestSentWhileThePreviousIsBeingHandled) {
  // The second request arrives while the server reads nothing (its handler is busy): the
  // server must still see it once the first answer is out, and then go on as usual.
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/slow")));
  ASSERT_TRUE(eventually([&] { return slowStarted_.load() == 1; }));
  ASSERT_TRUE(c.send(post("/", "during")));
  auto slow = c.readResponse();
  auto during = c.readResponse();
  ASSERT_TRUE(slow && during);
  EXPECT_EQ(slow->status, 200);
  EXPECT_EQ(during->body, "during");
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send(post("/", "after" + std::to_string(i))));
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "after" + std::to_string(i));
  }
}

TEST_F(HttpServerTest, AnswersAClientThatHalfClosesThenCloses) {
  // Requests followed at once by the client's FIN (`nc -N`): the answers go out and the
  // connection is closed, not left open until the idle timeout.
  ServerSettings settings;
  settings.idleTimeout = 30s;
  startServer(settings);
  {
    RawConn c(port());
    ASSERT_TRUE(c.send(post("/", "bye")));
    ::shutdown(c.fd(), SHUT_WR);
    auto r = c.readResponse();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "bye");
    EXPECT_TRUE(c.waitClosed(2s));
  }
  // The second request and the FIN arrive while the server is busy with the first, so
  // they are reported together.
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/slow")));
  ASSERT_TRUE(eventually([&] { return slowStarted_.load() == 1; }));
  ASSERT_TRUE(c.send(post("/", "last")));
  ::shutdown(c.fd(), SHUT_WR);
  auto slow = c.readResponse();
  auto last = c.readResponse();
  ASSERT_TRUE(slow && last);
  EXPECT_EQ(last->body, "last");
  EXPECT_TRUE(c.waitClosed(2s));
}

TEST_F(HttpServerTest, ReadsARequestThatArrivesInPieces) {
  startServer();
  RawConn c(port());
  const std::string request = post("/", "pieces");
  for (std::size_t at = 0; at < request.size(); at += 7) {
    ASSERT_TRUE(c.send(request.substr(at, 7)));
    std::this_thread::sleep_for(2ms);
  }
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "pieces");
  ASSERT_TRUE(c.send(post("/", "next")));
  auto next = c.readResponse();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "next");
}

TEST_F(HttpServerTest, ClosesWhenTheClientAsksTo) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/hello", "Connection: close\r\n")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(c.waitClosed(2s));
}

TEST_F(HttpServerTest, KeepsReadingAfterAClosingAnswerWhileTheClientSendsMore) {
  // More bytes behind a Connection: close request than the socket buffers hold: closing
  // on them would reset the connection while the client is still sending.
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/hello", "Connection: close\r\n") + std::string(512 * 1024, 'x')));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
  EXPECT_TRUE(c.waitClosed(2s));
}

TEST_F(HttpServerTest, Http10ClosesByDefault) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send("GET /hello HTTP/1.0\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->head.substr(0, 8), "http/1.0");
  EXPECT_EQ(r->body, "hello");
  EXPECT_TRUE(c.waitClosed(2s));
}

TEST_F(HttpServerTest, HeadWritesNoBody) {
  startServer();
  RawConn c(port());
  auto h = roundTrip(c, "HEAD /hello HTTP/1.1\r\nHost: t\r\n\r\n", /*headOnly=*/true);
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(h->header("content-length"), "5");
  // Were a body written, it would be read as the start of the next response.
  auto r = roundTrip(c, post("/", "next"));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "next");
}

TEST_F(HttpServerTest, ExpectContinueGetsInterimResponse) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(
      "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n"));
  auto interim = c.readResponse(5s, true);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send("body"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "body");
}

TEST_F(HttpServerTest, BodyOverLimitIs413AndCloses) {
  ServerSettings s;
  s.bodyLimit = 1000;
  startServer(s);
  RawConn c(port());
  ASSERT_TRUE(c.send(post("/", std::string(2000, 'x'))));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_NE(errorMessage(r->body).find("1000"), std::string::npos) << r->body;
  EXPECT_TRUE(c.waitClosed(3s));
}

TEST_F(HttpServerTest, ChunkedBodyOverLimitIs413) {
  ServerSettings s;
  s.bodyLimit = 1000;
  startServer(s);
  RawConn c(port());
  std::string req = "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 3; ++i) req += "200\r\n" + std::string(512, 'y') + "\r\n";
  req += "0\r\n\r\n";
  ASSERT_TRUE(c.send(req));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
}

TEST_F(HttpServerTest, BodyAtTheLimitIsAccepted) {
  ServerSettings s;
  s.bodyLimit = 1000;
  startServer(s);
  RawConn c(port());
  ASSERT_TRUE(c.send(post("/", std::string(1000, 'x'))));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body.size(), 1000u);
}

TEST_F(HttpServerTest, HugeHeadersAre431) {
  ServerSettings s;
  s.headerLimit = 4096;
  startServer(s);
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/", "X-Big: " + std::string(20'000, 'h') + "\r\n")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 431);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_NE(errorMessage(r->body), "<not json>");
  EXPECT_TRUE(c.waitClosed(3s));
}

// A GET whose head (request line, fields, CRLFs and the empty line) is `size` bytes,
// the bulk in one field ("field"), in the target ("target") or over many fields.
std::string headOfSize(std::size_t size, std::string_view shape) {
  if (shape == "target") {
    const std::string rest = " HTTP/1.1\r\nHost: t\r\n\r\n";
    return "GET /" + std::string(size - 5 - rest.size(), 'a') + rest;
  }
  std::string head = "GET / HTTP/1.1\r\nHost: t\r\n";
  while (shape == "fields" && head.size() + 200 < size) {
    head += "X-Field-" + std::to_string(head.size()) + ": " + std::string(100, 'f') + "\r\n";
  }
  const std::size_t fixed = head.size() + std::string_view("X-Fill: \r\n\r\n").size();
  return head + "X-Fill: " + std::string(size - fixed, 'x') + "\r\n\r\n";
}

// The limit holds on the whole head to the byte, wherever its bytes are. Beast alone
// lets the request line and the fields have the limit each, and the fields after the
// first read another one.
TEST_F(HttpServerTest, HeadOfExactlyTheLimitIsAcceptedAndOneByteMoreIs431) {
  startServer();
  const std::size_t limit = ServerSettings{}.headerLimit;
  ASSERT_EQ(limit, 65'536u);
  for (const char* shape : {"field", "target", "fields"}) {
    const std::string atLimit = headOfSize(limit, shape);
    ASSERT_EQ(atLimit.size(), limit) << shape;
    RawConn c(port());
    auto ok = roundTrip(c, atLimit);
    ASSERT_TRUE(ok) << shape;
    EXPECT_EQ(ok->status, 200) << shape;
    auto next = roundTrip(c, get("/hello"));
    ASSERT_TRUE(next) << shape;
    EXPECT_EQ(next->body, "hello") << shape;

    RawConn over(port());
    auto r = roundTrip(over, headOfSize(limit + 1, shape));
    ASSERT_TRUE(r) << shape;
    EXPECT_EQ(r->status, 431) << shape;
    EXPECT_EQ(r->header("connection"), "close") << shape;
    EXPECT_EQ(errorMessage(r->body),
              "request head (request line and header fields) exceeds 65536 bytes")
        << shape;
    EXPECT_TRUE(over.waitClosed(3s)) << shape;
  }

  // A body sent with a head at the limit is read as usual; one byte more of head is 431.
  const std::size_t headLength = post("/", "payload", "X-Fill: \r\n").size() - 7;
  const std::string fill = "X-Fill: " + std::string(limit - headLength, 'x') + "\r\n";
  RawConn c(port());
  auto echoed = roundTrip(c, post("/", "payload", fill));
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->status, 200);
  EXPECT_EQ(echoed->body, "payload");
  RawConn over(port());
  auto refused = roundTrip(over, post("/", "payload", "X" + fill));
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 431);

  RawConn after(port());
  auto served = roundTrip(after, get("/hello"));
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
}

TEST_F(HttpServerTest, TargetsThatAreNeitherPathsNorUrlsAre400) {
  startServer();
  for (const char* line : {"GET ?a==b HTTP/1.1", "POST a/b HTTP/1.1", "GET * HTTP/1.1",
                           "CONNECT example.com:443 HTTP/1.1", "GET ftp://example.com/ HTTP/1.1",
                           "GET http:// HTTP/1.1"}) {
    RawConn c(port());
    auto r = roundTrip(c, std::string(line) + "\r\nHost: t\r\n\r\n");
    ASSERT_TRUE(r) << line;
    EXPECT_EQ(r->status, 400) << line;
    EXPECT_EQ(r->header("content-type"), "application/json") << line;
    EXPECT_EQ(errorMessage(r->body),
              "request target must be a path starting with \"/\" or an absolute http(s) URL")
        << line;
    EXPECT_TRUE(c.waitClosed(3s)) << line;
  }
}

TEST_F(HttpServerTest, AbsoluteFormReachesTheHandlerAndOptionsAsteriskIsAnswered) {
  startServer();
  RawConn c(port());
  for (const char* target : {"http://example.com/echo?x=1", "HTTPS://example.com:8443"}) {
    auto r = roundTrip(c, get(target));
    ASSERT_TRUE(r) << target;
    EXPECT_EQ(r->status, 200) << target;
    EXPECT_EQ(r->header("x-target"), lower(target));
  }
  auto options = roundTrip(c, "OPTIONS * HTTP/1.1\r\nHost: t\r\n\r\n");
  ASSERT_TRUE(options);
  EXPECT_EQ(options->status, 200);
  EXPECT_EQ(options->header("content-length"), "0");
  EXPECT_EQ(options->header("x-target"), "");  // answered by the server
  auto next = roundTrip(c, get("/hello"));
  ASSERT_TRUE(next);
  EXPECT_EQ(next->body, "hello");
  EXPECT_EQ(server_->acceptedConnections(), 1u);
}

TEST(IsAbsoluteFormTest, HttpAndHttpsUrlsWithAnAuthority) {
  EXPECT_TRUE(isAbsoluteForm("http://h/p?q"));
  EXPECT_TRUE(isAbsoluteForm("Https://h"));
  EXPECT_FALSE(isAbsoluteForm("/http://h"));
  EXPECT_FALSE(isAbsoluteForm("http://"));
  EXPECT_FALSE(isAbsoluteForm("http:/h"));
  EXPECT_FALSE(isAbsoluteForm("ftp://h/"));
}

TEST_F(HttpServerTest, GarbageIs400) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send("THIS IS NOT HTTP\r\n\r\n"));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_NE(errorMessage(r->body).find("malformed"), std::string::npos) << r->body;
  EXPECT_TRUE(c.waitClosed(3s));
}

TEST_F(HttpServerTest, HandlerExceptionIs500AndServingGoesOn) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/throw")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->header("content-type"), "application/json");
  EXPECT_EQ(errorMessage(r->body), "internal server error");
  ASSERT_TRUE(c.send(get("/hello")));
  auto ok = c.readResponse();
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200);
  RawConn other(port());
  ASSERT_TRUE(other.send(get("/hello")));
  ASSERT_TRUE(other.readResponse());
}

TEST_F(HttpServerTest, SlowLorisIsCutOffWhileOthersAreServed) {
  ServerSettings s;
  s.readTimeout = 300ms;
  s.idleTimeout = 10s;
  startServer(s);
  RawConn slow(port());
  const std::string request = get("/", "X-Padding: " + std::string(60, 'p') + "\r\n");
  std::atomic<bool> closed{false};
  std::atomic<std::size_t> sent{0};
  std::atomic<long> elapsedMs{0};
  std::thread loris([&] {
    const auto start = Clock::now();
    for (char ch : request) {
      if (!slow.send(std::string_view(&ch, 1))) {
        closed = true;
        break;
      }
      ++sent;
      // Paces the bytes 100 ms apart and notices the close at once.
      if (slow.waitClosed(100ms)) {
        closed = true;
        break;
      }
    }
    elapsedMs = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  });
  // Served while the slow client is still trickling.
  RawConn fast(port());
  ASSERT_TRUE(fast.send(get("/hello")));
  auto r = fast.readResponse(2s);
  loris.join();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "hello");
  EXPECT_TRUE(closed);
  EXPECT_LT(sent.load(), request.size());
  EXPECT_GE(elapsedMs.load(), 250);
  EXPECT_LT(elapsedMs.load(), 1500);
}

TEST_F(HttpServerTest, IdleKeepAliveConnectionIsClosed) {
  ServerSettings s;
  s.idleTimeout = 200ms;
  startServer(s);
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/hello")));
  ASSERT_TRUE(c.readResponse());
  const auto start = Clock::now();
  EXPECT_TRUE(c.waitClosed(3s));
  EXPECT_GE(Clock::now() - start, 150ms);
}

TEST_F(HttpServerTest, MaxConnectionsIsEnforced) {
  ServerSettings s;
  s.maxConnections = 2;
  startServer(s);
  auto a = std::make_unique<RawConn>(port());
  RawConn b(port());
  ASSERT_TRUE(a->send(get("/hello")) && b.send(get("/hello")));
  ASSERT_TRUE(a->readResponse());
  ASSERT_TRUE(b.readResponse());
  EXPECT_EQ(server_->liveConnections(), 2u);

  RawConn over(port());
  over.send(get("/hello"));
  EXPECT_TRUE(over.waitClosed(3s));
  EXPECT_EQ(over.pending(), "");
  EXPECT_EQ(server_->liveConnections(), 2u);
  EXPECT_EQ(server_->acceptedConnections(), 2u);

  a.reset();
  ASSERT_TRUE(eventually([&] { return server_->liveConnections() == 1; }));
  RawConn again(port());
  ASSERT_TRUE(again.send(get("/hello")));
  auto r = again.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST_F(HttpServerTest, StopClosesIdleConnectionsAndFinishesInFlightOnes) {
  startServer();
  RawConn idle(port());
  ASSERT_TRUE(idle.send(get("/hello")));
  ASSERT_TRUE(idle.readResponse());
  RawConn busy(port());
  ASSERT_TRUE(busy.send(get("/slow")));
  ASSERT_TRUE(eventually([&] { return slowStarted_.load() == 1; }));

  server_->stop();
  EXPECT_TRUE(idle.waitClosed(2s));
  auto r = busy.readResponse(3s);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->header("connection"), "close");
  EXPECT_TRUE(busy.waitClosed(2s));
  EXPECT_LT(connectTo(port()), 0);
}

// While draining the listener stays open; every connection, new or kept alive, gets
// its next answer with Connection: close and is closed. Silent ones wait for stop().
TEST_F(HttpServerTest, DrainingClosesEachConnectionAfterItsNextAnswerAndStillAccepts) {
  startServer();
  RawConn kept(port());
  ASSERT_TRUE(roundTrip(kept, get("/hello")));
  RawConn silent(port());
  ASSERT_TRUE(roundTrip(silent, get("/hello")));
  server_->drain();

  RawConn fresh(port());
  for (RawConn* c : {&fresh, &kept}) {
    auto r = roundTrip(*c, get("/hello"));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("connection"), "close");
    EXPECT_TRUE(c->waitClosed(2s));
  }
  EXPECT_FALSE(silent.waitClosed(100ms));

  server_->stop();
  EXPECT_TRUE(silent.waitClosed(2s));
  EXPECT_LT(connectTo(port()), 0);
}

TEST_F(HttpServerTest, EveryThreadAcceptsOnTheSamePort) {
  startServer({}, 3);
  std::vector<std::unique_ptr<RawConn>> conns;
  for (int i = 0; i < 12; ++i) {
    conns.push_back(std::make_unique<RawConn>(port()));
    ASSERT_TRUE(conns.back()->send(post("/", std::to_string(i))));
  }
  for (int i = 0; i < 12; ++i) {
    auto r = conns[i]->readResponse();
    ASSERT_TRUE(r) << i;
    EXPECT_EQ(r->body, std::to_string(i));
  }
  EXPECT_EQ(server_->acceptedConnections(), 12u);
}

TEST(HttpServerStartTest, ThrowsWhenThePortIsTaken) {
  IoPool pool(1);
  ServerSettings s;
  s.address = "127.0.0.1";
  HttpServer first(pool, s, EchoHandler{});
  first.start();
  s.port = first.port();
  HttpServer second(pool, s, EchoHandler{});
  EXPECT_THROW(second.start(), std::runtime_error);
}

TEST(HttpServerStartTest, ThrowsOnAnInvalidAddress) {
  IoPool pool(1);
  ServerSettings s;
  s.address = "not-an-address";
  HttpServer server(pool, s, EchoHandler{});
  EXPECT_THROW(server.start(), std::runtime_error);
}

TEST(HttpServerStartTest, ThrowsWhenTlsFilesCannotBeLoaded) {
  IoPool pool(1);
  ServerSettings s;
  s.address = "127.0.0.1";
  s.tls = TlsFiles{"/nonexistent/cert.pem", "/nonexistent/key.pem"};
  HttpServer server(pool, s, EchoHandler{});
  EXPECT_THROW(server.start(), std::runtime_error);
}

TEST(HttpServerStartTest, ThrowsWhenKeyDoesNotMatchCertificate) {
  TempDir dir;
  const std::string cert = (dir.path() / "cert.pem").string();
  const std::string key = (dir.path() / "key.pem").string();
  const std::string otherCert = (dir.path() / "other.pem").string();
  const std::string otherKey = (dir.path() / "other.key").string();
  writeSelfSigned(cert, key);
  writeSelfSigned(otherCert, otherKey);
  IoPool pool(1);
  ServerSettings s;
  s.address = "127.0.0.1";
  s.tls = TlsFiles{cert, otherKey};
  HttpServer server(pool, s, EchoHandler{});
  EXPECT_THROW(server.start(), std::runtime_error);
}

}  // namespace
}  // namespace eg::net
