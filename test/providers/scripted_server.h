#pragma once

#include <atomic>
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

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// An HTTP/1.1 server on 127.0.0.1 for client tests: it records every request and
// answers each with what the script returns. A script returning std::nullopt leaves
// the request unanswered (the connection stays open) to exercise client deadlines.
class ScriptedServer {
 public:
  struct Reply {
    unsigned status = 200;
    std::string contentType = "application/json";
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers = {};  // besides Content-Type
  };
  using Script = std::function<std::optional<Reply>(const http::request<http::string_body>&)>;

  explicit ScriptedServer(Script script)
      : script_(std::move(script)), acceptor_(ioc_, {asio::ip::make_address("127.0.0.1"), 0}) {
    asio::co_spawn(ioc_, listen(), asio::detached);
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~ScriptedServer() {
    ioc_.stop();
    thread_.join();
  }

  std::uint16_t port() const { return acceptor_.local_endpoint().port(); }
  std::string url(const std::string& target) const {
    return "http://127.0.0.1:" + std::to_string(port()) + target;
  }
  std::vector<http::request<http::string_body>> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  int connections() const { return connections_.load(); }

 private:
  asio::awaitable<void> listen() {
    for (;;) {
      auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
      if (ec) co_return;
      ++connections_;
      asio::co_spawn(ioc_, session(beast::tcp_stream(std::move(socket))), asio::detached);
    }
  }

  asio::awaitable<void> session(beast::tcp_stream stream) {
    beast::flat_buffer buffer;
    for (;;) {
      http::request<http::string_body> request;
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
        // Hold the connection open without answering until the client gives up.
        asio::steady_timer wait(ioc_, std::chrono::seconds(10));
        co_await wait.async_wait(asio::as_tuple(asio::use_awaitable));
        co_return;
      }
      http::response<http::string_body> response{static_cast<http::status>(reply->status),
                                                 request.version()};
      response.set(http::field::content_type, reply->contentType);
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
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<http::request<http::string_body>> requests_;
  std::atomic<int> connections_{0};
};

// A port on 127.0.0.1 that nothing listens on: bound, then released.
inline std::uint16_t closedPort() {
  asio::io_context ioc;
  tcp::acceptor acceptor(ioc, {asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

}  // namespace eg::providers::testing
