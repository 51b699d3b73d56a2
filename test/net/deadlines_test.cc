#include "net/deadlines.h"

#include <chrono>
#include <memory>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <gtest/gtest.h>

namespace eg::net {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

// A connected pair of sockets on loopback.
struct Pair {
  explicit Pair(asio::io_context& ctx) : client(ctx), server(ctx) {
    tcp::acceptor acceptor(ctx, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.connect(acceptor.local_endpoint());
    acceptor.accept(server);
  }
  tcp::socket client;
  tcp::socket server;
};

// The server end of a connected pair, registered with a sweep of `tick`.
class DeadlinesTest : public ::testing::Test {
 protected:
  void watch(std::chrono::milliseconds tick) {
    deadlines = Deadlines::create(ctx.get_executor(), tick);
    entry.socket = &pair.server;
    registered.emplace(*deadlines, entry);
  }
  void TearDown() override { registered.reset(); }

  asio::io_context ctx;
  Pair pair{ctx};
  std::shared_ptr<Deadlines> deadlines;
  Deadlines::Entry entry;
  std::optional<Deadlines::Registration> registered;
  char byte = 0;
  boost::system::error_code got;
  bool done = false;
};

TEST_F(DeadlinesTest, CancelsAPendingReadOnceItsDeadlinePassed) {
  watch(10ms);
  Deadlines::after(entry, 100ms);

  Clock::duration elapsed{};
  const auto start = Clock::now();
  pair.server.async_read_some(asio::buffer(&byte, 1), [&](auto ec, std::size_t) {
    got = ec;
    elapsed = Clock::now() - start;
  });
  ctx.run_for(3s);
  EXPECT_EQ(got, asio::error::operation_aborted);
  EXPECT_TRUE(entry.expired);
  EXPECT_GE(elapsed, 100ms);
  EXPECT_LT(elapsed, 1s);
}

TEST_F(DeadlinesTest, LeavesOperationsWithoutADeadlineAlone) {
  watch(5ms);
  Deadlines::after(entry, 10ms);
  Deadlines::clear(entry);  // the operation may take as long as it takes

  pair.server.async_read_some(asio::buffer(&byte, 1), [&](auto ec, std::size_t) {
    done = true;
    got = ec;
  });
  asio::steady_timer later(ctx, 150ms);
  later.async_wait([&](auto) { asio::write(pair.client, asio::buffer("x", 1)); });
  ctx.run_for(3s);
  EXPECT_TRUE(done);
  EXPECT_FALSE(got) << got.message();
  EXPECT_EQ(byte, 'x');
  EXPECT_FALSE(entry.expired);
}

TEST_F(DeadlinesTest, AnOperationStartedAfterTheDeadlineIsCancelledToo) {
  watch(5ms);
  Deadlines::after(entry, 10ms);

  // The deadline passes while nothing is pending; the read starts afterwards.
  asio::steady_timer later(ctx, 100ms);
  later.async_wait([&](auto) {
    pair.server.async_read_some(asio::buffer(&byte, 1), [&](auto ec, std::size_t) {
      done = true;
      got = ec;
    });
  });
  ctx.run_for(3s);
  EXPECT_TRUE(done);
  EXPECT_EQ(got, asio::error::operation_aborted);
  EXPECT_TRUE(entry.expired);
}

TEST(Deadlines, TheSweepEndsWhenNothingIsRegistered) {
  asio::io_context ctx;
  auto deadlines = Deadlines::create(ctx.get_executor(), 5ms);
  {
    Pair pair(ctx);
    Deadlines::Entry entry;
    entry.socket = &pair.server;
    Deadlines::Registration registered(*deadlines, entry);
  }
  // With no entry left the pending tick fires once more and does not re-arm: run()
  // returns by itself instead of ticking forever.
  const auto start = Clock::now();
  ctx.run_for(3s);
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(Deadlines, AfterStopNothingIsSweptAndTheObjectMayOutliveItsContext) {
  auto ctx = std::make_unique<asio::io_context>();
  auto deadlines = Deadlines::create(ctx->get_executor(), 5ms);
  bool done = false;
  {
    Pair pair(*ctx);
    Deadlines::Entry entry;
    entry.socket = &pair.server;
    Deadlines::Registration registered(*deadlines, entry);
    Deadlines::after(entry, 1ms);
    deadlines->stop();
    // Past its deadline, but no sweep cancels the read: the peer's byte completes it.
    char byte = 0;
    boost::system::error_code got;
    pair.server.async_read_some(asio::buffer(&byte, 1), [&](auto ec, std::size_t) {
      done = true;
      got = ec;
    });
    asio::steady_timer later(*ctx, 50ms);
    later.async_wait([&](auto) { asio::write(pair.client, asio::buffer("x", 1)); });
    ctx->run_for(3s);
    EXPECT_TRUE(done);
    EXPECT_FALSE(got) << got.message();
    EXPECT_FALSE(entry.expired);
  }
  // The sweep's timer went with stop(): the context (and its timer service) can go
  // first, as it does when an io_context's services shut down.
  ctx.reset();
  deadlines.reset();
}

TEST(Deadlines, TickIsATenthOfTheShortestTimeoutWithinBounds) {
  EXPECT_EQ(Deadlines::tickFor(300ms), 30ms);
  EXPECT_EQ(Deadlines::tickFor(10ms), 5ms);
  EXPECT_EQ(Deadlines::tickFor(60s), 500ms);
}

}  // namespace
}  // namespace eg::net
