#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/detached.hpp>
#include <gtest/gtest.h>

#include "providers/builtin.h"
#include "providers/http/http_provider.h"
#include "providers/retry_after.h"
#include "providers/scripted_server.h"

namespace eg::providers {
namespace {

using namespace std::chrono_literals;
using testing::ScriptedServer;
namespace json = boost::json;

constexpr const char* kPayload = R"({"eventType":"user.created","eventID":"1","data":{"a":1}})";
constexpr const char* kKey = "azure-key-9f8e7d";
constexpr const char* kToken = "Bearer gcf-token-1a2b3c";

class HttpInvokerTest : public ::testing::Test {
 protected:
  std::unique_ptr<Invoker> invoker(json::object provider) {
    auto settings = parseHttpProvider(provider);
    EXPECT_TRUE(settings) << settings.error().message;
    return std::make_unique<HttpInvoker>(client_, std::move(settings).value());
  }

  // Runs one call on this test's io_context, bounded by `limit`.
  Result<CallResult> call(const Invoker& invoker, std::chrono::milliseconds limit = 10s,
                          CallContext context = {}, std::string_view payload = kPayload) {
    // Result has no default constructor, which co_spawn's completion needs: store it here.
    auto done = std::make_shared<std::optional<Result<CallResult>>>();
    boost::asio::co_spawn(
        ioc_,
        [&invoker, done, context, payload]() -> boost::asio::awaitable<void> {
          done->emplace(co_await invoker.call(payload, context));
        },
        boost::asio::detached);
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done->has_value() && std::chrono::steady_clock::now() < deadline) {
      ioc_.run_one_for(20ms);
    }
    if (!done->has_value()) {
      return Error::internal("the call did not finish within the test's limit");
    }
    return std::move(**done);
  }

  json::object withSecrets(const std::string& url) {
    return json::object{{"url", url},
                        {"headers", json::object{{"x-functions-key", kKey},
                                                 {"Authorization", kToken}}}};
  }

  static void expectNoSecrets(const std::string& message) {
    EXPECT_EQ(message.find(kKey), std::string::npos) << message;
    EXPECT_EQ(message.find("gcf-token"), std::string::npos) << message;
    EXPECT_EQ(message.find("s3cr3t"), std::string::npos) << message;
  }

  boost::asio::io_context ioc_;
  net::HttpClient client_;  // destroyed before the io_context its connections use
};

TEST_F(HttpInvokerTest, PostsTheEventWithContentTypeAndConfiguredHeaders) {
  ScriptedServer server([](const auto&) {
    return ScriptedServer::Reply{200, "application/json", R"({"ok":true})"};
  });
  auto fn = invoker(withSecrets(server.url("/api/fn?code=s3cr3t")));
  const Result<CallResult> result = call(*fn);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, R"({"ok":true})");
  EXPECT_EQ(result->contentType, "application/json");

  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& request = requests[0];
  EXPECT_EQ(request.method(), boost::beast::http::verb::post);
  EXPECT_EQ(request.target(), "/api/fn?code=s3cr3t");
  EXPECT_EQ(request[boost::beast::http::field::content_type], kCloudEventsContentType);
  EXPECT_EQ(request["x-functions-key"], kKey);
  EXPECT_EQ(request[boost::beast::http::field::authorization], kToken);
  EXPECT_EQ(request[boost::beast::http::field::host], "127.0.0.1:" + std::to_string(server.port()));
  EXPECT_EQ(request.body(), kPayload);
}

TEST_F(HttpInvokerTest, TheTraceContextIsForwardedAsHeaders) {
  ScriptedServer server([](const auto&) { return ScriptedServer::Reply{200, "text/plain", "ok"}; });
  constexpr std::string_view kParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
  for (const bool binary : {false, true}) {
    json::object provider{{"url", server.url("/")}};
    if (binary) provider["eventMode"] = "binary";
    auto fn = invoker(provider);
    constexpr std::string_view kEvent =
        R"({"specversion":"1.0","id":"1","source":"/s","type":"user.created"})";
    const auto traced = call(*fn, 10s, CallContext{kParent, "congo=t61rcWkgMzE"}, kEvent);
    ASSERT_TRUE(traced) << traced.error().message;
    ASSERT_TRUE(call(*fn, 10s, {}, kEvent));  // and none without one
  }
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 4u);
  for (std::size_t i : {0u, 2u}) {
    EXPECT_EQ(requests[i]["traceparent"], kParent) << i;
    EXPECT_EQ(requests[i]["tracestate"], "congo=t61rcWkgMzE") << i;
    EXPECT_EQ(requests[i + 1].count("traceparent"), 0u) << i;
    EXPECT_EQ(requests[i + 1].count("tracestate"), 0u) << i;
  }
  EXPECT_EQ(requests[2]["ce-type"], "user.created");  // binary mode kept its own headers
}

TEST_F(HttpInvokerTest, ConfiguredContentTypeReplacesTheDefault) {
  ScriptedServer server([](const auto&) { return ScriptedServer::Reply{200, "text/plain", "ok"}; });
  auto fn = invoker(json::object{
      {"url", server.url("/")}, {"headers", json::object{{"content-type", "application/json"}}}});
  ASSERT_TRUE(call(*fn));
  const auto requests = server.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].count(boost::beast::http::field::content_type), 1u);
  EXPECT_EQ(requests[0][boost::beast::http::field::content_type], "application/json");
}

TEST_F(HttpInvokerTest, StatusesBelow500AreTheFunctionsAnswer) {
  for (const unsigned status : {201u, 204u, 302u, 400u, 404u, 499u}) {
    ScriptedServer server([status](const auto&) {
      return ScriptedServer::Reply{status, "text/plain", status == 204 ? "" : "answer"};
    });
    auto fn = invoker(json::object{{"url", server.url("/fn")}});
    const Result<CallResult> result = call(*fn);
    ASSERT_TRUE(result) << status << ": " << result.error().message;
    EXPECT_EQ(result->body, status == 204 ? "" : "answer") << status;
    EXPECT_EQ(result->contentType, "text/plain") << status;
    EXPECT_EQ(result->status, status);
    EXPECT_EQ(result->retryAfter, std::nullopt) << status;
  }
}

TEST_F(HttpInvokerTest, TooManyRequestsCarriesItsStatusAndRetryAfter) {
  ScriptedServer server([](const auto&) {
    return ScriptedServer::Reply{429, "text/plain", "slow down", {{"Retry-After", "3"}}};
  });
  auto fn = invoker(json::object{{"url", server.url("/fn")}});
  const Result<CallResult> result = call(*fn);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->status, 429u);
  EXPECT_EQ(result->retryAfter, std::chrono::milliseconds(3000));
  EXPECT_EQ(result->body, "slow down");
}

TEST_F(HttpInvokerTest, Status5xxIsAFailedCall) {
  for (const unsigned status : {500u, 502u, 503u}) {
    ScriptedServer server([status](const auto&) {
      return ScriptedServer::Reply{status, "text/plain", "upstream broke: " + std::string(kKey)};
    });
    auto fn = invoker(withSecrets(server.url("/api/fn?code=s3cr3t")));
    const Result<CallResult> result = call(*fn);
    ASSERT_FALSE(result) << status;
    EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
    EXPECT_EQ(result.error().message, "function call failed: http " + std::to_string(status) +
                                          " from http://127.0.0.1:" +
                                          std::to_string(server.port()) + "/api/fn");
    EXPECT_EQ(result.error().retryAfter, std::nullopt);
    expectNoSecrets(result.error().message);
  }
}

TEST_F(HttpInvokerTest, Status5xxCarriesItsRetryAfter) {
  for (const auto& [value, expected] :
       std::vector<std::pair<std::string, std::chrono::milliseconds>>{
           {"7", 7s}, {"Fri, 31 Dec 9999 23:59:59 GMT", kMaxRetryAfter}}) {
    ScriptedServer server([&value = value](const auto&) {
      return ScriptedServer::Reply{503, "text/plain", "", {{"Retry-After", value}}};
    });
    auto fn = invoker(json::object{{"url", server.url("/fn")}});
    const Result<CallResult> result = call(*fn);
    ASSERT_FALSE(result) << value;
    EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
    EXPECT_EQ(result.error().message, "function call failed: http 503 from http://127.0.0.1:" +
                                          std::to_string(server.port()) + "/fn");
    EXPECT_EQ(result.error().retryAfter, expected) << value;
  }
}

TEST_F(HttpInvokerTest, UnansweredCallTimesOutAtTheConfiguredDeadline) {
  ScriptedServer server([](const auto&) { return std::nullopt; });
  json::object provider = withSecrets(server.url("/slow?code=s3cr3t"));
  provider["timeout"] = 200;
  auto fn = invoker(provider);
  const auto start = std::chrono::steady_clock::now();
  const Result<CallResult> result = call(*fn, 5s);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kTimeout) << result.error().message;
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 2s);
  EXPECT_EQ(result.error().message.rfind("function call failed: timed out calling http://127.0.0.1:" +
                                             std::to_string(server.port()) + "/slow",
                                         0),
            0u)
      << result.error().message;
  expectNoSecrets(result.error().message);
}

TEST_F(HttpInvokerTest, RefusedConnectionIsUnavailable) {
  const std::string url =
      "http://127.0.0.1:" + std::to_string(testing::closedPort()) + "/fn?code=s3cr3t";
  auto fn = invoker(withSecrets(url));
  const auto start = std::chrono::steady_clock::now();
  const Result<CallResult> result = call(*fn, 5s);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable) << result.error().message;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
  EXPECT_EQ(result.error().message.rfind("function call failed: cannot call " + url.substr(0, url.find('?')), 0),
            0u)
      << result.error().message;
  expectNoSecrets(result.error().message);
}

TEST_F(HttpInvokerTest, ConnectionsAreReused) {
  ScriptedServer server([](const auto&) { return ScriptedServer::Reply{200, "text/plain", "ok"}; });
  auto fn = invoker(json::object{{"url", server.url("/fn")}});
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(call(*fn)) << i;
  EXPECT_EQ(server.requests().size(), 3u);
  EXPECT_EQ(server.connections(), 1);
}

TEST_F(HttpInvokerTest, RegistryBuildsWorkingHttpInvokers) {
  ProviderRegistry registry;
  registerBuiltinProviders(registry, client_);
  const ProviderFactory* factory = registry.find("http");
  ASSERT_NE(factory, nullptr);

  ScriptedServer server([](const auto& request) {
    return ScriptedServer::Reply{200, "application/json", std::string(request.body())};
  });
  model::Function function{"default", "echo", "http", json::object{{"url", server.url("/echo")}},
                           std::nullopt};
  ASSERT_TRUE(factory->validate(function.provider));
  const std::unique_ptr<Invoker> fn = factory->create(function);
  const Result<CallResult> result = call(*fn);
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->body, kPayload);
}

TEST_F(HttpInvokerTest, InvalidStoredProviderYieldsAFailingInvoker) {
  HttpProviderFactory factory(client_);
  model::Function function{"default", "broken", "http",
                           json::object{{"url", "ftp://example.com/"}}, std::nullopt};
  const std::unique_ptr<Invoker> fn = factory.create(function);
  ASSERT_NE(fn, nullptr);
  const Result<CallResult> result = call(*fn);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().kind, ErrorKind::kUnavailable);
  EXPECT_EQ(result.error().message,
            R"(function call failed: invalid provider: Field "provider.url" must be an http or https URL.)");
}

}  // namespace
}  // namespace eg::providers
