// Streamed replies (net/reply.h) as HttpServer writes them: chunked on HTTP/1.1, up to
// the close on HTTP/1.0, one write per piece, and a producer that learns when its client
// is gone.
#include "net/reply.h"

#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "net/http_server.h"
#include "net/net_test_util.h"

namespace eg::net {
namespace {

using namespace testing;

struct Shared {
  std::atomic<bool> otherServed{false};
  std::atomic<bool> endlessEnded{false};
  std::atomic<bool> endlessRefused{false};
  std::atomic<int> producersRun{0};
  std::atomic<bool> watchedOpen{false};   // peerClosed() was false while the client stayed
  std::atomic<bool> watchedClose{false};  // then it turned true
};

asio::awaitable<void> fivePieces(Shared* shared, BodyWriter& out) {
  ++shared->producersRun;
  for (int i = 0; i < 5; ++i) {
    if (!co_await out.write("piece-" + std::to_string(i) + ";")) co_return;
  }
}

asio::awaitable<void> nothing(Shared* shared, BodyWriter&) {
  ++shared->producersRun;
  co_return;
}

asio::awaitable<void> failing(bool afterFirstPiece, BodyWriter& out) {
  if (afterFirstPiece) co_await out.write("partial");
  throw std::runtime_error("producer exploded");
}

// 64 KiB pieces until a write is refused (bounded, so that a broken writer ends the test).
asio::awaitable<void> endless(Shared* shared, BodyWriter& out) {
  const std::string piece(64 * 1024, 'x');
  for (int i = 0; i < 100'000; ++i) {
    if (!co_await out.write(piece)) {
      shared->endlessRefused = true;
      break;
    }
  }
  shared->endlessEnded = true;
}

// Small pieces until /other was answered on the same thread (or 20000 of them).
asio::awaitable<void> untilServed(Shared* shared, BodyWriter& out) {
  for (int i = 0; i < 20'000 && !shared->otherServed; ++i) {
    if (!co_await out.write("p;")) co_return;
  }
  co_await out.write(shared->otherServed ? "served" : "not served");
}

// A producer with nothing to write (a quiet event tail): it asks whether its client is
// still there instead.
asio::awaitable<void> watchPeer(Shared* shared, BodyWriter& out) {
  if (!co_await out.write("open;")) co_return;
  asio::steady_timer timer(co_await asio::this_coro::executor);
  for (int i = 0; i < 500; ++i) {
    if (out.peerClosed()) {
      shared->watchedClose = true;
      co_return;
    }
    if (i == 5) shared->watchedOpen = true;
    timer.expires_after(std::chrono::milliseconds(10));
    co_await timer.async_wait(asio::use_awaitable);
  }
}

struct StreamingHandler {
  Shared* shared;

  asio::awaitable<Reply> operator()(Request& req) const {
    const std::string target(req.target());
    Response head{http::status::ok, req.version()};
    head.set(http::field::content_type, "text/plain");
    Shared* s = shared;
    if (target == "/pieces") {
      co_return Reply(std::move(head), [s](BodyWriter& out) { return fivePieces(s, out); });
    }
    if (target == "/empty") {
      co_return Reply(std::move(head), [s](BodyWriter& out) { return nothing(s, out); });
    }
    if (target == "/throw-first" || target == "/throw-later") {
      const bool later = target == "/throw-later";
      co_return Reply(std::move(head), [later](BodyWriter& out) { return failing(later, out); });
    }
    if (target == "/endless") {
      co_return Reply(std::move(head), [s](BodyWriter& out) { return endless(s, out); });
    }
    if (target == "/until-served") {
      co_return Reply(std::move(head), [s](BodyWriter& out) { return untilServed(s, out); });
    }
    if (target == "/watch") {
      co_return Reply(std::move(head), [s](BodyWriter& out) { return watchPeer(s, out); });
    }
    if (target == "/nocontent") {
      head.result(http::status::no_content);
      co_return Reply(std::move(head), [s](BodyWriter& out) { return fivePieces(s, out); });
    }
    if (target == "/other") shared->otherServed = true;
    head.body() = "whole";
    co_return head;
  }
};

class StreamedReplyTest : public ::testing::Test {
 protected:
  void startServer(std::size_t threads = 1) {
    ServerSettings settings;
    settings.address = "127.0.0.1";
    pool_ = std::make_unique<IoPool>(threads);
    server_ = std::make_unique<HttpServer>(*pool_, settings, StreamingHandler{&shared_});
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

  Shared shared_;
  std::unique_ptr<IoPool> pool_;
  std::unique_ptr<HttpServer> server_;
};

std::string get(std::string_view target, std::string_view version = "1.1") {
  return "GET " + std::string(target) + " HTTP/" + std::string(version) + "\r\nHost: t\r\n\r\n";
}

TEST_F(StreamedReplyTest, PiecesArriveAsChunksInOrderAndTheConnectionIsKept) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/pieces")));
  auto head = c.readResponse();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("transfer-encoding"), "chunked");
  EXPECT_EQ(head->header("content-length"), "");
  EXPECT_EQ(head->header("content-type"), "text/plain");
  auto chunks = c.readChunks();
  ASSERT_TRUE(chunks);
  EXPECT_EQ(*chunks, (std::vector<std::string>{"piece-0;", "piece-1;", "piece-2;", "piece-3;",
                                               "piece-4;"}));

  // The next request on the same connection, answered whole.
  ASSERT_TRUE(c.send(get("/whole")));
  auto whole = c.readResponse();
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->body, "whole");
  EXPECT_EQ(whole->header("content-length"), "5");
  EXPECT_EQ(server_->acceptedConnections(), 1u);
}

TEST_F(StreamedReplyTest, AProducerThatWritesNothingGivesAnEmptyBody) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/empty")));
  auto head = c.readResponse();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("transfer-encoding"), "chunked");
  auto chunks = c.readChunks();
  ASSERT_TRUE(chunks);
  EXPECT_TRUE(chunks->empty());
  EXPECT_EQ(shared_.producersRun, 1);
}

TEST_F(StreamedReplyTest, AnHttp10ClientGetsTheBodyUpToTheClose) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/pieces", "1.0")));
  auto head = c.readResponse();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  EXPECT_EQ(head->header("transfer-encoding"), "");
  EXPECT_EQ(head->header("content-length"), "");
  ASSERT_TRUE(c.waitClosed(5s));
  EXPECT_EQ(c.pending(), "piece-0;piece-1;piece-2;piece-3;piece-4;");
}

TEST_F(StreamedReplyTest, AHeadRequestGetsTheHeadWithoutRunningTheProducer) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send("HEAD /pieces HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto head = c.readResponse(5s, true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->header("transfer-encoding"), "chunked");
  ASSERT_TRUE(c.send(get("/whole")));
  auto whole = c.readResponse();
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->body, "whole");
  EXPECT_EQ(shared_.producersRun, 0);
}

TEST_F(StreamedReplyTest, AStatusWithoutABodyIgnoresTheProducer) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/nocontent")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 204);
  EXPECT_EQ(r->header("transfer-encoding"), "");
  ASSERT_TRUE(c.send(get("/whole")));
  auto whole = c.readResponse();
  ASSERT_TRUE(whole);
  EXPECT_EQ(whole->body, "whole");
  EXPECT_EQ(shared_.producersRun, 0);
}

TEST_F(StreamedReplyTest, AProducerThatFailsBeforeItsFirstPieceIsA500) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/throw-first")));
  auto r = c.readResponse();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(r->body, R"({"errors":[{"message":"internal server error"}]})");
  EXPECT_TRUE(c.waitClosed(5s));
}

TEST_F(StreamedReplyTest, AProducerThatFailsLaterLeavesTheBodyUnfinished) {
  startServer();
  RawConn c(port());
  ASSERT_TRUE(c.send(get("/throw-later")));
  auto head = c.readResponse();
  ASSERT_TRUE(head);
  EXPECT_EQ(head->status, 200);
  ASSERT_TRUE(c.waitClosed(5s));
  // The piece written, and no last chunk: the client knows the body is incomplete.
  EXPECT_EQ(c.pending(), "7\r\npartial\r\n");
}

TEST_F(StreamedReplyTest, AClientThatGoesAwayEndsTheProducer) {
  startServer();
  {
    RawConn c(port());
    ASSERT_TRUE(c.send(get("/endless")));
    auto head = c.readResponse();
    ASSERT_TRUE(head);
    EXPECT_EQ(head->header("transfer-encoding"), "chunked");
    ASSERT_TRUE(c.readMore());
  }  // closed with unread data: the server's next writes fail
  EXPECT_TRUE(eventually([&] { return shared_.endlessEnded.load(); }, 5s));
  EXPECT_TRUE(shared_.endlessRefused);
  EXPECT_TRUE(eventually([&] { return server_->liveConnections() == 0; }, 5s));
}

TEST_F(StreamedReplyTest, AProducerWithNothingToWriteSeesItsClientLeave) {
  startServer();
  {
    RawConn c(port());
    ASSERT_TRUE(c.send(get("/watch")));
    auto head = c.readResponse();
    ASSERT_TRUE(head);
    // While the client stays, it is not gone.
    ASSERT_TRUE(eventually([&] { return shared_.watchedOpen.load(); }, 5s));
    EXPECT_FALSE(shared_.watchedClose);
  }  // closed, with nothing left to write to it
  EXPECT_TRUE(eventually([&] { return shared_.watchedClose.load(); }, 5s));
  EXPECT_TRUE(eventually([&] { return server_->liveConnections() == 0; }, 5s));
}

// One I/O thread: the stream's writes give the thread back, so a request on another
// connection is answered while the stream goes on.
TEST_F(StreamedReplyTest, OtherRequestsOfTheThreadAreServedBetweenPieces) {
  startServer(1);
  RawConn stream(port());
  ASSERT_TRUE(stream.send(get("/until-served")));
  auto head = stream.readResponse();
  ASSERT_TRUE(head);
  RawConn other(port());
  ASSERT_TRUE(other.send(get("/other")));
  auto answer = other.readResponse();
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->body, "whole");
  auto chunks = stream.readChunks(10s);
  ASSERT_TRUE(chunks);
  ASSERT_FALSE(chunks->empty());
  const std::string& last = chunks->back();
  EXPECT_TRUE(last == "served") << chunks->size() << " chunks, ending \""
                                << last.substr(last.size() > 20 ? last.size() - 20 : 0) << "\"";
}

// For in-process callers: the pieces become one body with a Content-Length.
TEST(Collect, MakesAStreamedReplyOneResponse) {
  Shared shared;
  Response head{http::status::ok, 11};
  head.set(http::field::content_type, "text/plain");
  Reply reply(std::move(head), [&shared](BodyWriter& out) { return fivePieces(&shared, out); });
  asio::io_context ioc;
  Response res = runSync(ioc, collect(std::move(reply)));
  EXPECT_EQ(res.body(), "piece-0;piece-1;piece-2;piece-3;piece-4;");
  EXPECT_EQ(res[http::field::content_length], "40");
  EXPECT_EQ(res.count(http::field::transfer_encoding), 0u);
  EXPECT_EQ(res[http::field::content_type], "text/plain");
}

}  // namespace
}  // namespace eg::net
