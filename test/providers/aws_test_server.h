#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace eg::providers::testing {

// An HTTP/1.1 server on 127.0.0.1 standing in for an AWS endpoint: it records every
// request and answers with what the script returns (status, headers, body). A script
// returning std::nullopt leaves the request unanswered, to exercise deadlines.
class AwsTestServer {
 public:
  struct Reply {
    unsigned status = 200;
    std::vector<std::pair<std::string, std::string>> headers{{"Content-Type", "application/json"}};
    std::string body;
  };
  using Request = boost::beast::http::request<boost::beast::http::string_body>;
  using Script = std::function<std::optional<Reply>(const Request&)>;

  explicit AwsTestServer(Script script)
      : script_(std::move(script)),
        acceptor_(ioc_, {boost::asio::ip::make_address("127.0.0.1"), 0}) {
    boost::asio::co_spawn(ioc_, listen(), boost::asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~AwsTestServer() {
    ioc_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port()); }
  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }

 private:
  boost::asio::awaitable<void> listen() {
    namespace asio = boost::asio;
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      asio::co_spawn(ioc_, session(boost::beast::tcp_stream(std::move(socket))), asio::detached);
    }
  }

  boost::asio::awaitable<void> session(boost::beast::tcp_stream stream) {
    namespace asio = boost::asio;
    namespace http = boost::beast::http;
    boost::beast::flat_buffer buffer;
    for (;;) {
      Request request;
      stream.expires_after(std::chrono::seconds(10));
      auto [ec, n] =
          co_await http::async_read(stream, buffer, request, asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      {
        std::lock_guard lock(mutex_);
        requests_.push_back(request);
      }
      const std::optional<Reply> reply = script_(request);
      if (!reply) {
        asio::steady_timer wait(ioc_, std::chrono::seconds(10));
        co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return;
      }
      http::response<http::string_body> response{static_cast<http::status>(reply->status),
                                                 request.version()};
      for (const auto& [name, value] : reply->headers) response.set(name, value);
      response.keep_alive(request.keep_alive());
      response.body() = reply->body;
      response.prepare_payload();
      stream.expires_after(std::chrono::seconds(10));
      auto [wec, wn] =
          co_await http::async_write(stream, response, asio::as_tuple(asio::use_awaitable));
      if (wec || !request.keep_alive()) co_return;
    }
  }

  Script script_;
  boost::asio::io_context ioc_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
};

}  // namespace eg::providers::testing
