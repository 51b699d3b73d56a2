#pragma once

// In-memory stand-ins for the Config API's collaborators: a Store with etcd revision
// semantics, a route index with the sync conflict rules, and provider factories.

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <vector>

#include <boost/asio.hpp>

#include "config/service.h"
#include "model/codec.h"
#include "model/keys.h"
#include "providers/provider.h"
#include "store/store.h"

namespace eg::config::testing {

namespace asio = boost::asio;

// Every operation first yields to the executor, so that concurrent coroutines really
// interleave between a read and the write that depends on it.
class FakeStore final : public store::Store {
 public:
  asio::awaitable<Result<std::optional<store::KeyValue>>> get(std::string key) override {
    co_await yield();
    std::lock_guard lock(mu_);
    if (unavailable) co_return unavailableError();
    auto it = kvs_.find(key);
    if (it == kvs_.end()) co_return std::optional<store::KeyValue>();
    co_return std::optional<store::KeyValue>(it->second);
  }
  asio::awaitable<Result<store::RangeResult>> list(std::string prefix) override {
    co_await yield();
    std::lock_guard lock(mu_);
    if (unavailable) co_return unavailableError();
    store::RangeResult r;
    r.revision = revision_;
    for (auto it = kvs_.lower_bound(prefix); it != kvs_.end() && it->first.starts_with(prefix); ++it) {
      r.kvs.push_back(it->second);
    }
    co_return r;
  }
  asio::awaitable<Result<int64_t>> put(std::string key, std::string value) override {
    co_await yield();
    std::lock_guard lock(mu_);
    if (unavailable) co_return unavailableError();
    co_return putLocked(key, std::move(value));
  }
  asio::awaitable<Result<int64_t>> create(std::string key, std::string value) override {
    co_await yield();
    std::lock_guard lock(mu_);
    if (unavailable) co_return unavailableError();
    if (kvs_.count(key)) co_return Error::alreadyExists("key exists");
    co_return putLocked(key, std::move(value));
  }
  asio::awaitable<Result<int64_t>> compareAndSwap(std::string key, std::string value,
                                                  int64_t expected) override {
    co_await yield();
    std::lock_guard lock(mu_);
    if (unavailable) co_return unavailableError();
    if (modRevisionLocked(key) != expected) co_return Error::conflict("modRevision moved");
    co_return putLocked(key, std::move(value));
  }
  asio::awaitable<Result<int64_t>> remove(std::string key) override {
    co_await yield();
    std::lock_guard lock(mu_);
    if (unavailable) co_return unavailableError();
    if (!kvs_.erase(key)) co_return Error::notFound("no such key");
    co_return ++revision_;
  }
  asio::awaitable<Result<store::TxnResult>> txn(std::vector<store::Compare> compares,
                                                std::vector<store::Op> ops) override {
    co_await yield();
    std::function<void()> hook;
    {
      std::lock_guard lock(mu_);
      hook = std::exchange(beforeNextTxn, nullptr);
    }
    if (hook) hook();
    std::lock_guard lock(mu_);
    if (unavailable) co_return unavailableError();
    ++txns;
    std::set<std::string> keys;
    for (const auto& op : ops) {
      if (!keys.insert(op.key).second) co_return Error::invalid("two ops on one key");
    }
    for (const auto& c : compares) {
      if (!holdsLocked(c)) co_return store::TxnResult{false, revision_};
    }
    ++revision_;
    for (const auto& op : ops) {
      if (op.type == store::Op::Type::kPut) {
        auto& kv = kvs_[op.key];
        if (kv.key.empty()) {
          kv.key = op.key;
          kv.createRevision = revision_;
        }
        kv.value = op.value;
        kv.modRevision = revision_;
      } else {
        kvs_.erase(op.key);
      }
    }
    co_return store::TxnResult{true, revision_};
  }
  // Records the revision asked; waits while `holdDurable`; fails with `failDurable`.
  asio::awaitable<Status> durable(int64_t revision) override {
    {
      std::lock_guard lock(mu_);
      durableAsked_.push_back(revision);
    }
    asio::steady_timer poll(co_await asio::this_coro::executor);
    while (holdDurable.load()) {
      poll.expires_after(std::chrono::milliseconds(1));
      co_await poll.async_wait(asio::use_awaitable);
    }
    if (failDurable.load()) co_return Error::unavailable("the sync failed");
    co_return Status{};
  }
  std::vector<int64_t> durableAsked() const {
    std::lock_guard lock(mu_);
    return durableAsked_;
  }
  // Not needed by the service; the real cache is tested over the embedded store.
  std::unique_ptr<store::Watch> watch(std::string, int64_t, WatchHandler) override {
    return std::make_unique<store::Watch>();
  }
  bool healthy() const override { return !unavailable; }
  std::string name() const override { return "fake"; }
  bool soleWriter() const override { return true; }

  // Synchronous access for tests and the fake route index.
  std::map<std::string, store::KeyValue> contents() const {
    std::lock_guard lock(mu_);
    return kvs_;
  }
  int64_t modRevision(const std::string& key) const {
    std::lock_guard lock(mu_);
    return modRevisionLocked(key);
  }
  void putNow(const std::string& key, std::string value) {
    std::lock_guard lock(mu_);
    putLocked(key, std::move(value));
  }

  std::atomic<bool> unavailable{false};
  std::atomic<bool> holdDurable{false};
  std::atomic<bool> failDurable{false};
  std::atomic<int> txns{0};
  // Runs once, just before the next transaction is applied (a concurrent writer).
  std::function<void()> beforeNextTxn;

 private:
  static asio::awaitable<void> yield() {
    co_await asio::post(co_await asio::this_coro::executor, asio::use_awaitable);
  }
  static Error unavailableError() { return Error::unavailable("connection refused"); }
  int64_t modRevisionLocked(const std::string& key) const {
    auto it = kvs_.find(key);
    return it == kvs_.end() ? 0 : it->second.modRevision;
  }
  bool holdsLocked(const store::Compare& c) const {
    if (!c.prefix) return modRevisionLocked(c.key) == c.modRevision;
    for (auto it = kvs_.lower_bound(c.key); it != kvs_.end() && it->first.starts_with(c.key); ++it) {
      if (it->second.modRevision > c.modRevision) return false;
    }
    return true;
  }
  int64_t putLocked(const std::string& key, std::string value) {
    ++revision_;
    auto& kv = kvs_[key];
    if (kv.key.empty()) {
      kv.key = key;
      kv.createRevision = revision_;
    }
    kv.value = std::move(value);
    kv.modRevision = revision_;
    return revision_;
  }

  mutable std::mutex mu_;
  std::map<std::string, store::KeyValue> kvs_;
  int64_t revision_ = 0;
  std::vector<int64_t> durableAsked_;
};

// The sync conflict rules over the sync subscriptions of a FakeStore as of the last
// refresh. With `autoRefresh` off it lags like a real cache that has not yet applied the
// latest writes, until waitForRevision catches it up.
class FakeRouteIndex final : public SyncRouteIndex {
 public:
  explicit FakeRouteIndex(FakeStore& store) : store_(store) {}

  routing::ConfigCache::SyncCheck checkSyncRoute(const model::Subscription& c) const override {
    std::lock_guard lock(mu_);
    if (autoRefresh) refreshLocked();
    routing::ConfigCache::SyncCheck result{Status{}, sentinel_};
    for (const auto& s : routes_) {
      if (s.method != c.method || s.eventType != c.eventType) continue;
      if (s.path == c.path) {
        result.status = (s.space == c.space && s.subscriptionId == c.subscriptionId)
                            ? Status(Error::alreadyExists("Subscription \"" + c.subscriptionId +
                                                          "\" already exists."))
                            : Status(Error::invalid("path \"" + c.path + "\" is taken"));
        return result;
      }
      if (conflicts(s.path, c.path)) {
        result.status = Error::invalid("path \"" + c.path + "\" conflicts with \"" + s.path + "\"");
        return result;
      }
    }
    return result;
  }

  asio::awaitable<bool> waitForRevision(int64_t revision, std::chrono::milliseconds) override {
    ++waits;
    std::lock_guard lock(mu_);
    refreshLocked();
    co_return true;
  }

  void refresh() {
    std::lock_guard lock(mu_);
    refreshLocked();
  }

  bool autoRefresh = true;
  std::atomic<int> waits{0};

 private:
  static std::vector<std::string_view> split(std::string_view path) {
    std::vector<std::string_view> out;
    path.remove_prefix(1);
    if (path.empty()) return out;
    while (true) {
      auto slash = path.find('/');
      out.push_back(path.substr(0, slash));
      if (slash == std::string_view::npos) break;
      path.remove_prefix(slash + 1);
    }
    return out;
  }
  // A static segment where the other has a parameter, parameters under different names,
  // or a wildcard next to anything.
  static bool conflicts(std::string_view a, std::string_view b) {
    const auto sa = split(a), sb = split(b);
    for (std::size_t i = 0; i < sa.size() && i < sb.size(); ++i) {
      const bool pa = !sa[i].empty() && (sa[i][0] == ':' || sa[i][0] == '*');
      const bool pb = !sb[i].empty() && (sb[i][0] == ':' || sb[i][0] == '*');
      if (!pa && !pb) {
        if (sa[i] != sb[i]) return false;
        continue;
      }
      if (pa != pb || sa[i] != sb[i] || sa[i][0] == '*') return true;
    }
    return false;
  }
  void refreshLocked() const {
    routes_.clear();
    const auto kvs = store_.contents();
    auto it = kvs.find(std::string(model::kRoutesSentinelKey));
    sentinel_ = it == kvs.end() ? 0 : it->second.modRevision;
    for (const auto& [k, kv] : kvs) {
      auto parsed = model::parseKey(k);
      if (!parsed || parsed->kind != model::ResourceKind::kSubscription) continue;
      auto s = model::decodeStoredSubscription(kv.value);
      if (s && s->type == model::SubscriptionType::kSync) routes_.push_back(*s);
    }
  }

  FakeStore& store_;
  mutable std::mutex mu_;
  mutable std::vector<model::Subscription> routes_;
  mutable int64_t sentinel_ = 0;
};

// Checks that the listed provider fields are present strings; marks the AWS credential
// fields secret.
class FakeFactory final : public providers::ProviderFactory {
 public:
  explicit FakeFactory(std::vector<std::string> required) : required_(std::move(required)) {}
  Status validate(const boost::json::object& provider) const override {
    for (const auto& f : required_) {
      const auto* v = provider.if_contains(f);
      if (!v || !v->is_string()) return Error::invalid("Missing required field \"" + f + "\" in provider.");
    }
    return {};
  }
  bool isSecretField(std::string_view field) const override {
    return field == "awsAccessKeyId" || field == "awsSecretAccessKey" || field == "awsSessionToken";
  }
  std::unique_ptr<providers::Invoker> create(const model::Function&) const override { return nullptr; }

 private:
  std::vector<std::string> required_;
};

inline void addFakeProviders(providers::ProviderRegistry& registry) {
  registry.add("http", std::make_unique<FakeFactory>(std::vector<std::string>{"url"}));
  registry.add("awslambda", std::make_unique<FakeFactory>(std::vector<std::string>{"arn", "region"}));
}

// Every resource a list hands out, in order.
template <class T>
Result<std::vector<T>> collected(Result<ResourceList<T>> list) {
  if (!list) return std::move(list).error();
  std::vector<T> out;
  while (!list->done()) {
    if (auto item = list->take()) out.push_back(std::move(*item));
  }
  return out;
}

// Runs a coroutine to completion on a fresh io_context and returns its result.
template <class T>
T run(asio::awaitable<T> task) {
  asio::io_context ioc;
  std::optional<T> out;
  // Result<T> has no default constructor, so the value is kept by a void coroutine.
  asio::co_spawn(
      ioc, [&]() -> asio::awaitable<void> { out.emplace(co_await std::move(task)); },
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  ioc.run();
  return std::move(*out);
}

// Runs `n` copies of `make(i)` concurrently, each on its own strand of a 4-thread pool,
// and collects the results.
template <class T, class Make>
std::vector<T> concurrently(int n, Make make) {
  asio::thread_pool pool(4);
  std::mutex mu;
  std::vector<T> results;
  for (int i = 0; i < n; ++i) {
    asio::co_spawn(
        asio::make_strand(pool),
        [&, task = make(i)]() mutable -> asio::awaitable<void> {
          auto r = co_await std::move(task);
          std::lock_guard lock(mu);
          results.push_back(std::move(r));
        },
        [](std::exception_ptr e) {
          if (e) std::rethrow_exception(e);
        });
  }
  pool.join();
  return results;
}

}  // namespace eg::config::testing
