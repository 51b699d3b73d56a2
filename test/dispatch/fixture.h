#pragma once

// The dispatcher driven on one io_context of the test's thread, against a hand-filled
// snapshot, scripted functions and a memory queue.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <gtest/gtest.h>

#include "dispatch/dispatcher.h"
#include "dispatch/fakes.h"
#include "queue/memory/memory_queue.h"

namespace eg::dispatch::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using namespace std::chrono_literals;

using Headers = std::vector<std::pair<std::string, std::string>>;

inline net::Request makeRequest(http::verb verb, std::string target, Headers headers = {},
                         std::string body = "") {
  net::Request req{verb, target, 11};
  req.set(http::field::host, "localhost:4000");
  for (auto& [k, v] : headers) req.set(k, v);
  req.body() = std::move(body);
  req.prepare_payload();
  return req;
}

inline net::Request emit(std::string path, std::string eventType, std::string body = R"({"a":1})") {
  return makeRequest(http::verb::post, std::move(path),
                     {{"Event", std::move(eventType)}, {"Content-Type", "application/json"}},
                     std::move(body));
}

inline std::string errorMessage(const net::Response& res) {
  auto v = json::parse(res.body());
  return std::string(v.at("errors").at(0).at("message").as_string());
}

class DispatcherTest : public ::testing::Test {
 protected:
  // A memory queue with room for `workers + backlog` deliveries, as -queue memory has.
  void start(DispatchSettings settings = {}, std::size_t backlog = 200) {
    queue_ = std::make_unique<queue::MemoryQueue>(settings.workers + backlog);
    ASSERT_TRUE(queue_->start().ok());
    dispatcher_ = std::make_unique<Dispatcher>(
        [this] { return std::shared_ptr<const routing::Snapshot>(snapshot_); },
        std::vector<asio::any_io_executor>{ioc_.get_executor()}, registry_, *queue_, settings,
        &observer_);
    dispatcher_->startDeliveries();
  }

  // Deliveries queued or in flight.
  uint64_t queued() const { return queue_->stats().deliveries; }

  net::Response send(net::Request req) {
    std::optional<net::Response> out;
    asio::co_spawn(
        ioc_, [&]() -> asio::awaitable<void> { out = co_await dispatcher_->handle(req); },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
    EXPECT_TRUE(runUntil([&] { return out.has_value(); }));
    return out ? std::move(*out) : net::Response{};
  }

  template <class Pred>
  bool runUntil(Pred done, std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done() && std::chrono::steady_clock::now() < deadline) ioc_.run_one_for(5ms);
    return done();
  }

  // Lets queued work run for a short while (to observe that nothing more happens).
  void settle() {
    for (int i = 0; i < 40; ++i) ioc_.run_one_for(1ms);
  }

  bool metricHas(const std::string& line) {
    return registry_.render().find(line) != std::string::npos;
  }

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> guard_{ioc_.get_executor()};
  metrics::Registry registry_;
  // Told of every event and call: tests tail it (observer_.tails().subscribe).
  observe::Observer observer_{registry_};
  std::shared_ptr<FakeSnapshot> snapshot_ = std::make_shared<FakeSnapshot>();
  std::unique_ptr<queue::MemoryQueue> queue_;
  std::unique_ptr<Dispatcher> dispatcher_;
};

}  // namespace eg::dispatch::testing
