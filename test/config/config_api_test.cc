#include "config/config_api.h"

#include <filesystem>
#include <random>
#include <thread>

#include <boost/asio.hpp>
#include <gtest/gtest.h>

#include "config/fakes.h"
#include "store/embedded_store.h"

namespace eg::config {
namespace {

namespace asio = boost::asio;
namespace http = boost::beast::http;
namespace fs = std::filesystem;
using testing::run;

// The Config API over the real embedded store and configuration cache.
class ConfigApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("eg-config-api-" + std::to_string(std::random_device{}()));
    fs::create_directories(dir_);
    auto opened = store::EmbeddedStore::open(dir_.string());
    ASSERT_TRUE(opened) << opened.error().message;
    store_ = std::move(*opened);
    testing::addFakeProviders(registry_);
    cache_ = std::make_unique<routing::ConfigCache>(*store_, registry_);
    auto started = run(cache_->start());
    ASSERT_TRUE(started) << started.error().message;
    api_ = std::make_unique<ConfigApi>(*store_, *cache_, registry_, metrics_);
  }
  void TearDown() override {
    api_.reset();
    if (cache_) cache_->stop();
    cache_.reset();
    store_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  net::Response call(http::verb method, std::string target, std::string body = "") {
    net::Request req{method, target, 11};
    req.body() = std::move(body);
    req.prepare_payload();
    return run(net::collect(run(api_->handle(req))));
  }

  fs::path dir_;
  std::unique_ptr<store::EmbeddedStore> store_;
  providers::ProviderRegistry registry_;
  metrics::Registry metrics_;
  std::unique_ptr<routing::ConfigCache> cache_;
  std::unique_ptr<ConfigApi> api_;
};

TEST_F(ConfigApiTest, SyncConflictsAreCheckedOnTheRouteIndex) {
  ASSERT_EQ(call(http::verb::post, "/v1/spaces/a/functions",
                 R"({"functionId":"f","type":"http","provider":{"url":"http://x"}})").result_int(), 201);
  ASSERT_EQ(call(http::verb::post, "/v1/spaces/b/functions",
                 R"({"functionId":"f","type":"http","provider":{"url":"http://x"}})").result_int(), 201);
  EXPECT_EQ(call(http::verb::post, "/v1/spaces/a/subscriptions",
                 R"({"event":"http","functionId":"f","method":"GET","path":"/users/:id"})").result_int(), 201);
  // Right after the first create: the service waits for the index when it lags.
  auto conflict = call(http::verb::post, "/v1/spaces/a/subscriptions",
                       R"({"event":"http","functionId":"f","method":"GET","path":"/users/me"})");
  EXPECT_EQ(conflict.result_int(), 400) << conflict.body();
  auto otherSpace = call(http::verb::post, "/v1/spaces/b/subscriptions",
                         R"({"event":"http","functionId":"f","method":"GET","path":"/users/:id"})");
  EXPECT_EQ(otherSpace.result_int(), 400) << otherSpace.body();
  auto same = call(http::verb::post, "/v1/spaces/a/subscriptions",
                   R"({"event":"http","functionId":"f","method":"GET","path":"/users/:id"})");
  EXPECT_EQ(same.result_int(), 409) << same.body();
  EXPECT_EQ(call(http::verb::post, "/v1/spaces/a/subscriptions",
                 R"({"event":"http","functionId":"f","method":"POST","path":"/users/me"})").result_int(), 201);
}

TEST_F(ConfigApiTest, ConcurrentConflictingSyncCreatesAdmitExactlyOne) {
  ASSERT_EQ(call(http::verb::post, "/v1/spaces/a/functions",
                 R"({"functionId":"f","type":"http","provider":{"url":"http://x"}})").result_int(), 201);
  auto statuses = testing::concurrently<unsigned>(8, [this](int i) -> asio::awaitable<unsigned> {
    net::Request req{http::verb::post, "/v1/spaces/a/subscriptions", 11};
    req.body() = R"({"event":"http","functionId":"f","method":"GET","path":"/r/:p)" + std::to_string(i) + R"("})";
    req.prepare_payload();
    auto res = co_await api_->handle(req);
    co_return res.response.result_int();
  });
  ASSERT_EQ(statuses.size(), 8u);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 201u), 1);
  EXPECT_EQ(std::count(statuses.begin(), statuses.end(), 400u), 7);
}

TEST_F(ConfigApiTest, MetricsIncludeResourceCountsFromTheSnapshot) {
  ASSERT_EQ(call(http::verb::post, "/v1/spaces/s/functions",
                 R"({"functionId":"f","type":"http","provider":{"url":"http://x"}})").result_int(), 201);
  ASSERT_EQ(call(http::verb::post, "/v1/spaces/s/subscriptions",
                 R"({"event":"user.created","functionId":"f"})").result_int(), 201);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::string text;
  while (std::chrono::steady_clock::now() < deadline) {
    text = call(http::verb::get, "/metrics").body();
    if (text.find("eventgateway_subscriptions_total{space=\"s\"} 1") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_NE(text.find("eventgateway_functions_total{space=\"s\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("eventgateway_eventtypes_total{space=\"s\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("eventgateway_subscriptions_total{space=\"s\"} 1"), std::string::npos) << text;
  auto status = call(http::verb::get, "/v1/status");
  EXPECT_EQ(status.body(), R"({"status":"ok","store":{"backend":"embedded","healthy":true}})");
}

// Keys are checked before routing: a refused request changes nothing, and the router's
// own answers (404, 405) are only for callers with a key that covers the path.
TEST_F(ConfigApiTest, AccessKeysAreCheckedBeforeRouting) {
  access::KeyStore keys(*access::KeySet::parse(
      access::fileLine("k-admin", *access::parseScope("admin")) + "\n" +
      access::fileLine("k-s", *access::parseScope("space:s:read")) + "\n"));
  ConfigApi guarded(*store_, *cache_, registry_, metrics_, ConfigApiSettings{&keys, false});
  const auto send = [&](http::verb method, std::string target, const char* key, std::string body = "") {
    net::Request req{method, target, 11};
    if (key) req.set(http::field::authorization, std::string("Bearer ") + key);
    req.body() = std::move(body);
    req.prepare_payload();
    return run(net::collect(run(guarded.handle(req))));
  };
  const std::string fn = R"({"functionId":"f","type":"http","provider":{"url":"http://x"}})";
  EXPECT_EQ(send(http::verb::post, "/v1/spaces/s/functions", nullptr, fn).result_int(), 401);
  EXPECT_EQ(send(http::verb::post, "/v1/spaces/s/functions", "k-s", fn).result_int(), 403);
  EXPECT_EQ(send(http::verb::get, "/v1/spaces/s/functions/f", "k-s").result_int(), 404);
  EXPECT_EQ(send(http::verb::post, "/v1/spaces/s/functions", "k-admin", fn).result_int(), 201);
  EXPECT_EQ(send(http::verb::get, "/v1/spaces/s/functions/f", "k-s").result_int(), 200);
  EXPECT_EQ(send(http::verb::patch, "/v1/spaces/s/functions/f", "k-admin").result_int(), 405);
  EXPECT_EQ(send(http::verb::get, "/v1/status", nullptr).result_int(), 200);
  EXPECT_EQ(send(http::verb::get, "/v1/metrics", nullptr).result_int(), 401);
  EXPECT_EQ(send(http::verb::get, "/v1/metrics", "k-admin").result_int(), 200);
  // The API without keys (api_) is as open as before.
  EXPECT_EQ(call(http::verb::delete_, "/v1/spaces/s/functions/f").result_int(), 204);
}

}  // namespace
}  // namespace eg::config
