#include "config/tail_endpoint.h"

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/url/parse.hpp>
#include <gtest/gtest.h>

#include "config/api_router.h"
#include "config/fakes.h"

namespace eg::config {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
using namespace std::chrono_literals;

// Collects what a stream writes; its client may be told to go.
class FakeWriter final : public net::BodyWriter {
 public:
  asio::awaitable<bool> write(std::string_view data) override {
    ++writes;
    text.append(data);
    co_return true;
  }
  bool peerClosed() override { return gone; }

  std::string text;
  int writes = 0;
  bool gone = false;
};

observe::Observation observation(observe::Outcome outcome, std::string_view type,
                                 std::string_view function) {
  observe::Observation o;
  o.outcome = outcome;
  o.space = "s";
  o.eventType = type;
  o.eventId = "e1";
  o.functionId = function;
  o.attempt = 1;
  o.httpStatus = 200;
  return o;
}

class TailStreamTest : public ::testing::Test {
 protected:
  // Starts the stream of `tail` on the test's io_context.
  void stream(std::unique_ptr<observe::TailSubscription> tail, TailStreamSettings settings) {
    std::shared_ptr<observe::TailSubscription> shared = std::move(tail);
    asio::co_spawn(ioc_, writeTail(shared, writer_, settings), [this](std::exception_ptr e) {
      ended_ = true;
      if (e) std::rethrow_exception(e);
    });
  }
  template <class Pred>
  bool runUntil(Pred done, std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) ioc_.run_one_for(5ms);
    return done();
  }
  std::unique_ptr<observe::TailSubscription> open(observe::TailFilter filter = {}) {
    auto t = hub_.subscribe("s", std::move(filter));
    EXPECT_TRUE(t.ok());
    return std::move(t).value();
  }

  asio::io_context ioc_;
  metrics::Registry registry_;
  observe::TailHub hub_{registry_, observe::TailSettings{4, 1e9, 1e9, 10}};
  FakeWriter writer_;
  bool ended_ = false;
  TailStreamSettings fast_{5ms, 15'000ms};
};

TEST_F(TailStreamTest, WritesOneServerSentEventPerObservation) {
  stream(open(), fast_);
  ASSERT_TRUE(runUntil([&] { return writer_.writes >= 1; }));
  EXPECT_EQ(writer_.text, ": tail open\n\n");
  hub_.publish(observation(observe::Outcome::kReceived, "t", ""));
  hub_.publish(observation(observe::Outcome::kDelivered, "t", "f"));
  ASSERT_TRUE(runUntil([&] { return writer_.text.find("id: 2\n") != std::string::npos; }));
  const std::string& text = writer_.text;
  const auto first = text.find("id: 1\nevent: received\ndata: {\"outcome\":\"received\"");
  const auto second = text.find("id: 2\nevent: delivered\ndata: {\"outcome\":\"delivered\"");
  ASSERT_NE(first, std::string::npos) << text;
  ASSERT_NE(second, std::string::npos) << text;
  EXPECT_LT(first, second);
  EXPECT_EQ(text.back(), '\n');
  EXPECT_NE(text.find("}\n\n", second), std::string::npos);
  hub_.close();
  EXPECT_TRUE(runUntil([&] { return ended_; }));
}

TEST_F(TailStreamTest, ReportsSkippedSamplesBeforeWhatFollows) {
  auto tail = open();
  // Before the stream reads: the ring of 4 keeps the newest.
  for (int i = 0; i < 7; ++i) hub_.publish(observation(observe::Outcome::kDelivered, "t", "f"));
  stream(std::move(tail), fast_);
  ASSERT_TRUE(runUntil([&] { return writer_.text.find("id: 7\n") != std::string::npos; }));
  const auto skipped =
      writer_.text.find("event: skipped\ndata: {\"skipped\":3,\"rate\":0,\"slow\":3}\n\n");
  ASSERT_NE(skipped, std::string::npos) << writer_.text;
  EXPECT_LT(skipped, writer_.text.find("id: 4\n"));
  EXPECT_EQ(writer_.text.find("id: 3\n"), std::string::npos);
  hub_.close();
  EXPECT_TRUE(runUntil([&] { return ended_; }));
}

TEST_F(TailStreamTest, KeepsTheConnectionAliveWhenQuiet) {
  stream(open(), TailStreamSettings{5ms, 30ms});
  ASSERT_TRUE(runUntil([&] { return writer_.text.find(": keep-alive\n\n") != std::string::npos; }));
  hub_.close();
  EXPECT_TRUE(runUntil([&] { return ended_; }));
}

TEST_F(TailStreamTest, EndsAndLeavesTheHubWhenTheClientGoes) {
  stream(open(), fast_);
  ASSERT_TRUE(runUntil([&] { return writer_.writes >= 1; }));
  EXPECT_TRUE(hub_.active());
  writer_.gone = true;
  ASSERT_TRUE(runUntil([&] { return ended_; }));
  // The coroutine's frame, and the subscription it held, are gone with it.
  ioc_.poll();
  EXPECT_FALSE(hub_.active());
}

// --- the route on the Config API ---

class TailRouteTest : public ::testing::Test {
 protected:
  TailRouteTest()
      : index_(store_), service_(store_, index_, providers_),
        router_(service_, store_, metrics_, &hub_) {}

  net::Reply call(http::verb method, std::string target) {
    net::Request req{method, target, 11};
    req.prepare_payload();
    return testing::run(router_.handle(req));
  }

  testing::FakeStore store_;
  testing::FakeRouteIndex index_;
  providers::ProviderRegistry providers_;
  metrics::Registry metrics_;
  observe::TailHub hub_{metrics_, observe::TailSettings{4, 1, 1, 1}};
  ConfigService service_;
  ApiRouter router_;
};

TEST_F(TailRouteTest, AnswersAnEventStreamWithTheQueryFilters) {
  net::Reply reply = call(http::verb::get, "/v1/spaces/s/events/tail?type=a.b&function=f");
  ASSERT_TRUE(reply.streamed());
  EXPECT_EQ(reply.response.result_int(), 200u);
  EXPECT_EQ(reply.response[http::field::content_type], "text/event-stream");
  EXPECT_EQ(reply.response[http::field::cache_control], "no-cache");
  EXPECT_TRUE(hub_.active());
  // maxTails is 1: another is refused until this one goes.
  net::Reply refused = call(http::verb::get, "/v1/spaces/s/events/tail");
  EXPECT_EQ(refused.response.result_int(), 503u);
  reply = net::Reply();
  EXPECT_FALSE(hub_.active());
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/s/events/tail").response.result_int(), 200u);
}

TEST_F(TailRouteTest, OnlyGetAndOnlyValidSpaces) {
  auto post = call(http::verb::post, "/v1/spaces/s/events/tail");
  EXPECT_EQ(post.response.result_int(), 405u);
  EXPECT_EQ(post.response[http::field::allow], "GET");
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/b%20d/events/tail").response.result_int(), 400u);
  EXPECT_EQ(call(http::verb::get, "/v1/spaces/s/events/other").response.result_int(), 404u);
}

}  // namespace
}  // namespace eg::config
