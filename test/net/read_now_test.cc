#include "net/read_now.h"

#include <array>
#include <memory>
#include <string>
#include <tuple>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <gtest/gtest.h>

#include "net/net_test_util.h"

namespace eg::net {
namespace {

using namespace testing;
namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

// A connected pair: `socket` on an io_context like the gateway's io threads (run by one
// thread, sockets without locking) or, with `locking`, on a default one, non-blocking and
// (with `watch`) with its peer's close watched; `peer` a raw blocking client.
class ReadNowTest : public ::testing::Test {
 protected:
  void connect(bool locking = false, bool watch = true) {
    ctx_ = locking ? std::make_unique<asio::io_context>()
                   : std::make_unique<asio::io_context>(BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO);
    tcp::acceptor acceptor(*ctx_, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    peer_ = std::make_unique<RawConn>(acceptor.local_endpoint().port());
    socket_ = std::make_unique<tcp::socket>(acceptor.accept());
    socket_->non_blocking(true);
    if (watch) {
      EXPECT_EQ(watchPeerClose(*socket_), !locking);
    }
  }

  // Until the bytes sent have reached the socket (poll(2) does not touch epoll's state).
  bool arrived() {
    pollfd p{socket_->native_handle(), POLLIN, 0};
    return ::poll(&p, 1, 2000) == 1;
  }
  bool deliver(std::string_view text) { return peer_->send(text) && arrived(); }

  void expectEndOfStreamNow() {
    std::size_t n = 0;
    error_code ec;
    ASSERT_TRUE(readNow(*socket_, asio::buffer(buf_), n, ec));
    EXPECT_EQ(ec, asio::error::eof);
  }

  // `text` is waiting, but readNow does not try: the read that waits for the reactor
  // gets it.
  void expectReadOnlyByWaiting(const std::string& text) {
    EXPECT_EQ(tryRead(), std::nullopt);
    EXPECT_EQ(waitRead(), text);
  }

  // What readNow gives, as text; nullopt when it did not read.
  std::optional<std::string> tryRead() {
    std::size_t n = 0;
    error_code ec;
    if (!readNow(*socket_, asio::buffer(buf_), n, ec)) return std::nullopt;
    EXPECT_FALSE(ec) << ec.message();
    return std::string(buf_.data(), n);
  }

  // Lets the reactor take readiness events while no read is pending.
  void reactorRuns() {
    auto work = asio::make_work_guard(*ctx_);
    ctx_->restart();
    ctx_->poll();
  }

  // async_read_some, then readDone, as the server and client do after readNow.
  std::string waitRead() {
    auto read = [this]() -> asio::awaitable<std::string> {
      auto [ec, n] =
          co_await socket_->async_read_some(asio::buffer(buf_), asio::as_tuple(asio::use_awaitable));
      readDone(*socket_, ec, n, buf_.size());
      EXPECT_FALSE(ec) << ec.message();
      co_return std::string(buf_.data(), n);
    };
    return runSync(*ctx_, read(), 5s);
  }

  std::unique_ptr<asio::io_context> ctx_;
  std::unique_ptr<RawConn> peer_;
  std::unique_ptr<tcp::socket> socket_;
  std::array<char, 64> buf_{};
};

TEST_F(ReadNowTest, AfterTheWatchStartsTheFirstReadWaits) {
  connect();
  ASSERT_TRUE(deliver("abc"));
  // Watching re-armed the socket, so the reactor will announce what is there.
  expectReadOnlyByWaiting("abc");
}

TEST_F(ReadNowTest, ReadsRightAwayWhatTheReactorAnnounced) {
  connect();
  ASSERT_TRUE(deliver("abc"));
  reactorRuns();
  EXPECT_EQ(tryRead(), "abc");
}

TEST_F(ReadNowTest, AfterAShortReadTheNextReadWaitsForTheReactor) {
  connect();
  ASSERT_TRUE(peer_->send("abc"));
  EXPECT_EQ(waitRead(), "abc");
  // The socket ran dry; data arriving now is not received before epoll reports it.
  for (const std::string next : {"def", "ghi"}) {
    ASSERT_TRUE(deliver(next));
    expectReadOnlyByWaiting(next);
  }
}

TEST_F(ReadNowTest, ReadinessSeenWhileNobodyReadsIsNotLost) {
  connect();
  ASSERT_TRUE(peer_->send("a"));
  EXPECT_EQ(waitRead(), "a");
  ASSERT_TRUE(deliver("late"));
  // The reactor runs with no read pending (as while a request is being handled) and takes
  // the readiness event; the next read must then try right away.
  reactorRuns();
  EXPECT_EQ(tryRead(), "late");
}

TEST_F(ReadNowTest, FullReadsKeepTryingUntilTheSocketIsEmpty) {
  connect();
  const std::string twice(2 * buf_.size(), 'x');
  ASSERT_TRUE(deliver(twice));
  reactorRuns();
  EXPECT_EQ(tryRead(), std::string(buf_.size(), 'x'));
  EXPECT_EQ(tryRead(), std::string(buf_.size(), 'x'));  // more may have been there: tried
  EXPECT_EQ(tryRead(), std::nullopt);                    // tried: would block
  ASSERT_TRUE(deliver("abc"));
  expectReadOnlyByWaiting("abc");
}

TEST_F(ReadNowTest, DataWithThePeersCloseInOneEventIsNotTakenAsEmpty) {
  connect();
  // Data and FIN arrive before the reactor looks: one readiness event for both. The short
  // read that follows must not count as emptying the socket, or the end of stream, which
  // no later event announces, would never be read.
  ASSERT_TRUE(peer_->send("last"));
  ::shutdown(peer_->fd(), SHUT_WR);  // FIN right behind the data
  ASSERT_TRUE(arrived());
  EXPECT_EQ(waitRead(), "last");
  expectEndOfStreamNow();
}

TEST_F(ReadNowTest, AReadAfterThePeersCloseWasSeenKeepsTrying) {
  connect();
  ASSERT_TRUE(peer_->send("last"));
  ::shutdown(peer_->fd(), SHUT_WR);  // FIN right behind the data
  ASSERT_TRUE(arrived());
  // The reactor takes the event with no read pending; readNow then reads the data.
  reactorRuns();
  EXPECT_EQ(tryRead(), "last");
  expectEndOfStreamNow();
}

TEST_F(ReadNowTest, LeavesSocketsOfALockingContextAlone) {
  connect(/*locking=*/true);
  ASSERT_TRUE(deliver("abc"));
  // Such a context may run its reactor on another thread: readNow never reads, and Asio's
  // own read does what it always does.
  expectReadOnlyByWaiting("abc");
  ASSERT_TRUE(deliver("def"));
  expectReadOnlyByWaiting("def");
}

TEST_F(ReadNowTest, LeavesSocketsWithoutAWatchedCloseAlone) {
  connect(/*locking=*/false, /*watch=*/false);
  ASSERT_TRUE(deliver("abc"));
  expectReadOnlyByWaiting("abc");
}

TEST_F(ReadNowTest, LeavesBlockingSocketsAlone) {
  connect();
  socket_->non_blocking(false);
  EXPECT_FALSE(watchPeerClose(*socket_));
  ASSERT_TRUE(deliver("abc"));
  expectReadOnlyByWaiting("abc");  // a read in readNow could block the thread
}

}  // namespace
}  // namespace eg::net
