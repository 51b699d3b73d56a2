#include "net/http_client.h"

#include <atomic>
#include <string>
#include <vector>
#include <mutex>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "net/http_server.h"
#include "net/net_test_util.h"

namespace eg::net {
namespace {

using namespace testing;

Url mustParse(std::string_view text) {
  auto url = Url::parse(text);
  if (!url) throw std::runtime_error(url.error().message);
  return std::move(url).value();
}

// Echoes what arrived, so tests can see the request the client wrote.
asio::awaitable<Response> echo(Request& req) {
  Response res{http::status::created, 11};
  res.set("X-Host", std::string(req[http::field::host]));
  res.set("X-User-Agent", std::string(req[http::field::user_agent]));
  res.set("X-Content-Length", std::string(req[http::field::content_length]));
  res.set("X-Custom", std::string(req["X-Custom"]));
  res.set("X-Method", std::string(req.method_string()));
  res.set("X-Target", std::string(req.target()));
  if (req.target() == "/close") res.set(http::field::connection, "close");
  res.body() = req.target() == "/hello" ? std::string("hello") : req.body();
  co_return res;
}

class HttpClientTest : public ::testing::Test {
 protected:
  void startServer(ServerSettings settings = {}) {
    settings.address = "127.0.0.1";
    pool_ = std::make_unique<IoPool>(1);
    server_ = std::make_unique<HttpServer>(*pool_, std::move(settings), echo);
    server_->start();
    pool_->start();
  }
  void TearDown() override {
    if (server_) server_->stop();
    if (pool_) pool_->stop();
  }

  // `times` calls in a row, each answered `answer`.
  void expectAnswers(HttpClient& client, const Url& url, int times, std::string_view answer) {
    for (int i = 0; i < times; ++i) {
      auto res = call(client, url, "x");
      ASSERT_TRUE(res.ok()) << i << ": " << res.error().message;
      EXPECT_EQ(res->body, answer);
    }
  }

  Result<ClientResponse> call(HttpClient& client, const Url& url, std::string body = "",
                              http::verb method = http::verb::post,
                              std::chrono::milliseconds responseTimeout = 5s) {
    ClientRequest req;
    req.method = method;
    req.url = &url;
    req.body = std::move(body);
    req.responseTimeout = responseTimeout;
    req.connectTimeout = 2s;
    return runSync(ioc_, client.send(std::move(req)));
  }

  // Like the gateway's io threads: run by one thread, sockets without locking.
  asio::io_context ioc_{BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO};
  std::unique_ptr<IoPool> pool_;
  std::unique_ptr<HttpServer> server_;
};

TEST(UrlTest, ParsesHttpWithDefaults) {
  Url u = mustParse("http://example.com");
  EXPECT_FALSE(u.tls);
  EXPECT_EQ(u.host, "example.com");
  EXPECT_EQ(u.port, 80);
  EXPECT_EQ(u.target, "/");
  EXPECT_EQ(u.hostHeader(), "example.com");
  EXPECT_EQ(u.origin(), "http://example.com:80");
}

TEST(UrlTest, ParsesHttpsWithPortPathAndQuery) {
  Url u = mustParse("https://API.Example.com:8443/v1/fn?x=1&y=a%20b#frag");
  EXPECT_TRUE(u.tls);
  EXPECT_EQ(u.host, "api.example.com");
  EXPECT_EQ(u.port, 8443);
  EXPECT_EQ(u.target, "/v1/fn?x=1&y=a%20b");
  EXPECT_EQ(u.hostHeader(), "api.example.com:8443");
  EXPECT_EQ(u.origin(), "https://api.example.com:8443");
}

TEST(UrlTest, DefaultPortIsLeftOutOfHostHeader) {
  EXPECT_EQ(mustParse("https://h:443/").hostHeader(), "h");
  EXPECT_EQ(mustParse("https://h/").port, 443);
  EXPECT_EQ(mustParse("http://h:443/").hostHeader(), "h:443");
  EXPECT_EQ(mustParse("http://h?q=1").target, "/?q=1");
}

TEST(UrlTest, ParsesAddressLiterals) {
  Url v4 = mustParse("http://127.0.0.1:8080/p");
  EXPECT_EQ(v4.host, "127.0.0.1");
  EXPECT_EQ(v4.port, 8080);
  Url v6 = mustParse("http://[::1]:9000/p");
  EXPECT_EQ(v6.host, "::1");
  EXPECT_EQ(v6.hostHeader(), "[::1]:9000");
  EXPECT_EQ(v6.origin(), "http://[::1]:9000");
}

TEST(UrlTest, RejectsWhatIsNotAnAbsoluteHttpUrl) {
  for (const char* bad : {"", "not a url", "/relative/path", "example.com/path", "ftp://host/x",
                          "mailto:someone@example.com", "http://", "http:///path",
                          "http://host:99999/", "http://host:0/", "http://host:12ab/",
                          "http://user:pw@host/"}) {
    auto u = Url::parse(bad);
    ASSERT_FALSE(u.ok()) << bad;
    EXPECT_EQ(u.error().kind, ErrorKind::kInvalid) << bad;
  }
}

TEST_F(HttpClientTest, SendsTheRequestAndReadsTheResponse) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/fn?a=1");
  ClientRequest req;
  req.url = &url;
  req.method = http::verb::put;
  req.headers = {{"X-Custom", "yes"}, {"Content-Length", "999"}, {"Connection", "close"}};
  req.body = "the body";
  auto res = runSync(ioc_, client.send(std::move(req)));
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 201u);
  EXPECT_EQ(res->body, "the body");
  EXPECT_EQ(res->header("x-host"), "127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(res->header("X-User-Agent"), "event-gateway");
  EXPECT_EQ(res->header("X-Content-Length"), "8");
  EXPECT_EQ(res->header("X-Custom"), "yes");
  EXPECT_EQ(res->header("X-Method"), "PUT");
  EXPECT_EQ(res->header("X-Target"), "/fn?a=1");
  EXPECT_EQ(res->header("Content-Length"), "8");
  EXPECT_EQ(res->header("missing"), "");
}

TEST_F(HttpClientTest, CallersUserAgentWins) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  ClientRequest req;
  req.url = &url;
  req.headers = {{"User-Agent", "custom/1"}};
  auto res = runSync(ioc_, client.send(std::move(req)));
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->header("X-User-Agent"), "custom/1");
}

constexpr std::string_view kOk = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// A head written once (fixedRequestHead) goes out exactly as the one written per call.
TEST_F(HttpClientTest, AFixedHeadIsSentAsTheHeadWrittenPerCall) {
  std::mutex mu;
  std::vector<std::string> requests;
  ScriptedServer server([&](RawConn& c, const std::atomic<bool>&) {
    // Connections are served one after the other: an idle one is let go soon (the
    // client then sends on a new one).
    while (auto request = c.readRequest(300ms)) {
      {
        std::lock_guard lock(mu);
        requests.push_back(*request);
      }
      c.send(kOk);
    }
  });
  HttpClient client;
  for (const std::string& text : {"http://127.0.0.1:" + std::to_string(server.port()) + "/f?q=1",
                                  "http://localhost:" + std::to_string(server.port())}) {
    SCOPED_TRACE(text);
    const Url url = mustParse(text);
    const std::vector<std::pair<std::string, std::string>> fixed = {
        {"Content-Type", "application/cloudevents+json"}, {"Host", "ignored"},
        {"Content-Length", "1"}, {"X-Api-Key", "k"}};
    const std::string head = fixedRequestHead(http::verb::post, url, fixed);
    // Per call, once, and once followed by headers of the call.
    for (int way = 0; way < 3; ++way) {
      ClientRequest req;
      req.url = &url;
      if (way == 0) {
        req.headers = fixed;
      } else {
        req.fixedHead = &head;
      }
      if (way == 2) req.headers = {{"X-Call", "c"}, {"Connection", "close"}};
      req.bodyView = "payload";
      auto res = runSync(ioc_, client.send(std::move(req)));
      ASSERT_TRUE(res.ok()) << res.error().message;
    }
    std::lock_guard lock(mu);
    ASSERT_EQ(requests.size(), 3u);
    EXPECT_EQ(requests[0], requests[1]);
    EXPECT_NE(requests[1].find("\r\nContent-Type: application/cloudevents+json\r\n"
                               "X-Api-Key: k\r\nUser-Agent: event-gateway\r\n"
                               "Content-Length: 7\r\n\r\npayload"),
              std::string::npos)
        << requests[1];
    EXPECT_EQ(requests[1].find("ignored"), std::string::npos);
    EXPECT_NE(requests[2].find("User-Agent: event-gateway\r\nX-Call: c\r\n"
                               "Content-Length: 7\r\n\r\npayload"),
              std::string::npos)
        << requests[2];
    EXPECT_EQ(requests[2].find("close"), std::string::npos);
    requests.clear();
  }
}

TEST_F(HttpClientTest, ReusesOneConnectionForSequentialCalls) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  for (int i = 0; i < 5; ++i) {
    auto res = call(client, url, "call" + std::to_string(i));
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(res->body, "call" + std::to_string(i));
  }
  EXPECT_EQ(server_->acceptedConnections(), 1u);
}

TEST_F(HttpClientTest, SendsAndReceivesLargeBodies) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/echo");
  std::string body(1'000'000, 'q');
  auto res = call(client, url, body);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->body, body);
}

TEST_F(HttpClientTest, ResolvesHostNames) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://localhost:" + std::to_string(server_->port()) + "/hello");
  auto res = call(client, url);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->body, "hello");
  EXPECT_EQ(res->header("x-host"), "localhost:" + std::to_string(server_->port()));
}

TEST_F(HttpClientTest, HeadResponseHasNoBodyAndKeepsTheConnection) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/hello");
  auto head = call(client, url, "", http::verb::head);
  ASSERT_TRUE(head.ok()) << head.error().message;
  EXPECT_EQ(head->header("Content-Length"), "5");
  EXPECT_EQ(head->body, "");
  auto res = call(client, url, "", http::verb::get);
  ASSERT_TRUE(res.ok());
  EXPECT_EQ(res->body, "hello");
  EXPECT_EQ(server_->acceptedConnections(), 1u);
}

TEST_F(HttpClientTest, ConnectionCloseResponseIsNotPooled) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/close");
  for (int i = 0; i < 2; ++i) {
    auto res = call(client, url, "x");
    ASSERT_TRUE(res.ok()) << res.error().message;
  }
  EXPECT_EQ(server_->acceptedConnections(), 2u);
}

TEST_F(HttpClientTest, IdleConnectionsExpire) {
  startServer();
  HttpClient::Settings settings;
  settings.idleTimeout = 50ms;
  HttpClient client(settings);
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  ASSERT_TRUE(call(client, url).ok());
  std::this_thread::sleep_for(120ms);  // the pooled connection must age past idleTimeout
  ASSERT_TRUE(call(client, url).ok());
  EXPECT_EQ(server_->acceptedConnections(), 2u);
}

TEST_F(HttpClientTest, SeparateClientsDoNotShareConnections) {
  startServer();
  HttpClient a;
  HttpClient b;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  ASSERT_TRUE(call(a, url).ok());
  ASSERT_TRUE(call(b, url).ok());
  ASSERT_TRUE(call(a, url).ok());
  EXPECT_EQ(server_->acceptedConnections(), 2u);
}

TEST_F(HttpClientTest, ConcurrentCallsUseSeparateConnectionsThenPoolThem) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  auto three = [&]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::future<std::optional<Result<ClientResponse>>>> futures;
    for (int i = 0; i < 3; ++i) {
      ClientRequest req;
      req.url = &url;
      req.body = std::to_string(i);
      futures.push_back(
          asio::co_spawn(ex, optionally(client.send(std::move(req))), asio::use_future));
    }
    asio::steady_timer t(ex);
    int ok = 0;
    for (auto& f : futures) {
      while (f.wait_for(0s) != std::future_status::ready) {
        t.expires_after(1ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      if (f.get()->ok()) ++ok;
    }
    co_return ok;
  };
  EXPECT_EQ(runSync(ioc_, three()), 3);
  EXPECT_EQ(server_->acceptedConnections(), 3u);
  EXPECT_EQ(runSync(ioc_, three()), 3);
  EXPECT_EQ(server_->acceptedConnections(), 3u);
}

TEST_F(HttpClientTest, KeepsAtMostMaxIdlePerOrigin) {
  startServer();
  HttpClient::Settings settings;
  settings.maxIdlePerOrigin = 1;
  HttpClient client(settings);
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  auto concurrent = [&]() -> asio::awaitable<int> {
    auto ex = co_await asio::this_coro::executor;
    std::vector<std::future<std::optional<Result<ClientResponse>>>> futures;
    for (int i = 0; i < 3; ++i) {
      ClientRequest req;
      req.url = &url;
      futures.push_back(
          asio::co_spawn(ex, optionally(client.send(std::move(req))), asio::use_future));
    }
    asio::steady_timer t(ex);
    int ok = 0;
    for (auto& f : futures) {
      while (f.wait_for(0s) != std::future_status::ready) {
        t.expires_after(1ms);
        co_await t.async_wait(asio::use_awaitable);
      }
      if (f.get()->ok()) ++ok;
    }
    co_return ok;
  };
  EXPECT_EQ(runSync(ioc_, concurrent()), 3);
  EXPECT_EQ(server_->acceptedConnections(), 3u);
  // One connection was kept; the other two calls need new ones.
  EXPECT_EQ(runSync(ioc_, concurrent()), 3);
  EXPECT_EQ(server_->acceptedConnections(), 5u);
}

TEST_F(HttpClientTest, PoolsPerIoContextAcrossThreads) {
  startServer();
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/");
  IoPool callers(2);
  callers.start();
  auto sequential = [&]() -> asio::awaitable<int> {
    int ok = 0;
    for (int i = 0; i < 20; ++i) {
      ClientRequest req;
      req.url = &url;
      req.body = std::to_string(i);
      auto res = co_await client.send(std::move(req));
      if (res.ok() && res->body == std::to_string(i)) ++ok;
    }
    co_return ok;
  };
  auto a = asio::co_spawn(callers.context(0), sequential(), asio::use_future);
  auto b = asio::co_spawn(callers.context(1), sequential(), asio::use_future);
  ASSERT_EQ(a.wait_for(20s), std::future_status::ready);
  ASSERT_EQ(b.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(a.get(), 20);
  EXPECT_EQ(b.get(), 20);
  // One connection per io_context, each reused by its own thread only.
  EXPECT_EQ(server_->acceptedConnections(), 2u);
  callers.stop();
}

TEST_F(HttpClientTest, TimesOutWhenTheServerNeverAnswers) {
  ScriptedServer silent(nullptr, /*accept=*/false);
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(silent.port()) + "/");
  const auto start = Clock::now();
  auto res = call(client, url, "x", http::verb::post, 300ms);
  const auto elapsed = Clock::now() - start;
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kTimeout) << res.error().message;
  EXPECT_GE(elapsed, 250ms);
  EXPECT_LT(elapsed, 2s);
}

TEST_F(HttpClientTest, ConnectionRefusedIsUnavailable) {
  uint16_t port;
  {
    ScriptedServer gone(nullptr, false);
    port = gone.port();
  }
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(port) + "/");
  auto res = call(client, url);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kUnavailable) << res.error().message;
}


TEST_F(HttpClientTest, RetriesOnceWhenAPooledConnectionWasClosed) {
  // Answers as if keeping the connection alive, then closes it.
  ScriptedServer closer([](RawConn& c, const std::atomic<bool>&) {
    if (c.readRequest()) c.send(kOk);
  });
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(closer.port()) + "/");
  expectAnswers(client, url, 3, "ok");
  EXPECT_EQ(closer.accepted(), 3);
}

TEST_F(HttpClientTest, DoesNotResendOnceResponseBytesArrived) {
  ScriptedServer partial([](RawConn& c, const std::atomic<bool>&) {
    if (!c.readRequest()) return;
    c.send(kOk);
    if (!c.readRequest()) return;
    c.send("HTTP/1.1 200 OK\r\nContent-Len");
  });
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(partial.port()) + "/");
  ASSERT_TRUE(call(client, url).ok());
  auto res = call(client, url);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kUnavailable) << res.error().message;
  EXPECT_EQ(partial.accepted(), 1);
}

TEST_F(HttpClientTest, ReadsAResponseThatArrivesInPieces) {
  // Each pause lets the client run dry and wait; the next piece must still be read, and
  // the connection is then reused as usual.
  ScriptedServer slow([](RawConn& c, const std::atomic<bool>&) {
    const std::string response = "HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nin-12-pieces";
    for (int i = 0; i < 3 && c.readRequest(); ++i) {
      for (std::size_t at = 0; at < response.size(); at += 9) {
        if (!c.send(response.substr(at, 9))) return;
        std::this_thread::sleep_for(5ms);
      }
    }
  });
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(slow.port()) + "/");
  expectAnswers(client, url, 3, "in-12-pieces");
  EXPECT_EQ(slow.accepted(), 1);
}

TEST_F(HttpClientTest, MalformedResponseIsInvalid) {
  ScriptedServer garbage([](RawConn& c, const std::atomic<bool>&) {
    if (c.readRequest()) c.send("NOT HTTP AT ALL\r\n\r\n");
  });
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(garbage.port()) + "/");
  auto res = call(client, url);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kInvalid) << res.error().message;
}

TEST_F(HttpClientTest, ResponseBodyIsLimited) {
  ScriptedServer big([](RawConn& c, const std::atomic<bool>&) {
    if (c.readRequest()) {
      c.send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b'));
    }
  });
  HttpClient::Settings settings;
  settings.maxResponseBody = 100;
  HttpClient client(settings);
  Url url = mustParse("http://127.0.0.1:" + std::to_string(big.port()) + "/");
  auto res = call(client, url);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kInvalid) << res.error().message;
  EXPECT_NE(res.error().message.find("100"), std::string::npos);
}

TEST_F(HttpClientTest, ResponseReadUntilCloseIsNotPooled) {
  ScriptedServer eof([](RawConn& c, const std::atomic<bool>&) {
    if (c.readRequest()) c.send("HTTP/1.1 200 OK\r\n\r\nuntil-eof");
  });
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(eof.port()) + "/");
  for (int i = 0; i < 2; ++i) {
    auto res = call(client, url);
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(res->body, "until-eof");
  }
  EXPECT_EQ(eof.accepted(), 2);
}

TEST_F(HttpClientTest, ReadsAResponseEndedByCloseOnAReusedConnection) {
  // The end of the body and the FIN arrive together on a pooled connection: the client
  // must still see the end of stream that completes the response.
  ScriptedServer eof([](RawConn& c, const std::atomic<bool>&) {
    if (c.readRequest()) c.send(kOk);
    if (c.readRequest()) c.send("HTTP/1.1 200 OK\r\n\r\nuntil-eof");
  });
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(eof.port()) + "/");
  ASSERT_TRUE(call(client, url).ok());
  auto res = call(client, url, "", http::verb::post, 3s);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->body, "until-eof");
  EXPECT_EQ(eof.accepted(), 1);
}

TEST_F(HttpClientTest, SkipsInterimResponses) {
  ScriptedServer early([](RawConn& c, const std::atomic<bool>&) {
    if (c.readRequest()) c.send("HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n" + std::string(kOk));
  });
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(early.port()) + "/");
  auto res = call(client, url);
  ASSERT_TRUE(res.ok()) << res.error().message;
  EXPECT_EQ(res->status, 200u);
  EXPECT_EQ(res->body, "ok");
}

TEST_F(HttpClientTest, RejectsHeaderInjection) {
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:1/");
  ClientRequest req;
  req.url = &url;
  req.headers = {{"X-Evil", "a\r\nInjected: yes"}};
  auto res = runSync(ioc_, client.send(std::move(req)));
  ASSERT_FALSE(res.ok());
  // Rejected before connecting: port 1 would otherwise answer "unavailable".
  EXPECT_EQ(res.error().kind, ErrorKind::kInvalid) << res.error().message;
  ClientRequest badName;
  badName.url = &url;
  badName.headers = {{"Bad Name", "v"}};
  auto res2 = runSync(ioc_, client.send(std::move(badName)));
  ASSERT_FALSE(res2.ok());
  EXPECT_EQ(res2.error().kind, ErrorKind::kInvalid);
}

TEST_F(HttpClientTest, MissingUrlIsInvalid) {
  HttpClient client;
  auto res = runSync(ioc_, client.send(ClientRequest{}));
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kInvalid);
}

class HttpsTest : public HttpClientTest {
 protected:
  void SetUp() override {
    cert_ = (dir_.path() / "cert.pem").string();
    key_ = (dir_.path() / "key.pem").string();
    writeSelfSigned(cert_, key_);
    ServerSettings s;
    s.tls = TlsFiles{cert_, key_};
    startServer(s);
  }
  TempDir dir_;
  std::string cert_;
  std::string key_;
};

TEST_F(HttpsTest, TalksToTheTlsServerAndPools) {
  HttpClient::Settings settings;
  settings.verifyPeer = false;
  HttpClient client(settings);
  Url url = mustParse("https://localhost:" + std::to_string(server_->port()) + "/hello");
  for (int i = 0; i < 3; ++i) {
    auto res = call(client, url);
    ASSERT_TRUE(res.ok()) << res.error().message;
    EXPECT_EQ(res->status, 201u);
    EXPECT_EQ(res->body, "hello");
  }
  EXPECT_EQ(server_->acceptedConnections(), 1u);
  // Bodies below, at and above one TLS record, on the pooled connection.
  Url echoUrl = mustParse("https://localhost:" + std::to_string(server_->port()) + "/echo");
  for (std::size_t size : {1u, 16'384u, 17'000u, 300'000u}) {
    const std::string body(size, 'z');
    auto post = call(client, echoUrl, body);
    ASSERT_TRUE(post.ok()) << size << ": " << post.error().message;
    EXPECT_EQ(post->body, body) << size;
  }
  EXPECT_EQ(server_->acceptedConnections(), 1u);
}

TEST_F(HttpsTest, UntrustedCertificateIsUnavailableWhenVerifying) {
  HttpClient client;  // verifyPeer defaults to true; the self-signed cert is not trusted
  Url url = mustParse("https://localhost:" + std::to_string(server_->port()) + "/hello");
  auto res = call(client, url);
  ASSERT_FALSE(res.ok());
  EXPECT_EQ(res.error().kind, ErrorKind::kUnavailable) << res.error().message;
}

TEST_F(HttpsTest, PlainHttpToTheTlsPortFails) {
  HttpClient client;
  Url url = mustParse("http://127.0.0.1:" + std::to_string(server_->port()) + "/hello");
  auto res = call(client, url, "", http::verb::get, 2s);
  ASSERT_FALSE(res.ok());
}

}  // namespace
}  // namespace eg::net
