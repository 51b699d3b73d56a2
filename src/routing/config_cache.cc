#include "routing/config_cache.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>

#include "common/published.h"
#include "model/codec.h"
#include "model/keys.h"
#include "routing/routing_table.h"

namespace eg::routing {

namespace asio = boost::asio;

namespace {

struct Waiter {
  Waiter(asio::any_io_executor executor, int64_t rev) : revision(rev), timer(std::move(executor)) {}
  int64_t revision;
  asio::steady_timer timer;
};

// Resource identity check: a value stored under a key must describe that key.
bool sameIdentity(const model::ParsedKey& key, std::string_view space, std::string_view id) {
  return key.space == space && key.id == id;
}

}  // namespace

struct ConfigCache::Impl {
  Impl(store::Store& s, const providers::ProviderRegistry& r)
      : store(s), registry(r), table(std::make_unique<RoutingTable>(r)),
        work(asio::make_work_guard(ioc)) {}

  store::Store& store;
  const providers::ProviderRegistry& registry;

  // The configuration as applied from the store; guarded by mu. The table keeps one copy
  // of each resource (without metadata, which only Config API clients read, from the
  // store) and hands out snapshots that share it.
  mutable std::mutex mu;
  std::unique_ptr<RoutingTable> table;
  int64_t sentinelRevision = 0;
  std::atomic<int64_t> applied{0};
  std::atomic<uint64_t> relists{0};

  // The published snapshot (common/published.h: readers take no lock unless it moved).
  Published<Snapshot> current;

  // Held while a snapshot is taken and published, so that publications never go back.
  std::mutex publishMu;

  std::mutex listenersMu;
  std::vector<std::function<void(const Snapshot&)>> listeners;

  std::mutex waitersMu;
  std::vector<std::shared_ptr<Waiter>> waiters;

  std::mutex watchMu;
  std::unique_ptr<store::Watch> watch;
  std::atomic<bool> stopping{false};

  // The cache's own thread: re-listing after compaction. Declared
  // last so that pending work is destroyed before the state it refers to.
  asio::io_context ioc;
  asio::executor_work_guard<asio::io_context::executor_type> work;
  std::thread thread;

  int64_t publishedRevision() const {
    auto snap = current.loadFresh();
    return snap ? snap->revision() : -1;
  }

  // --- applying store changes (mu held) ---------------------------------------------

  void eraseKey(const model::ParsedKey& parsed) {
    switch (parsed.kind) {
      case model::ResourceKind::kFunction:
        table->removeFunction(parsed.space, parsed.id);
        break;
      case model::ResourceKind::kEventType:
        table->removeEventType(parsed.space, parsed.id);
        break;
      case model::ResourceKind::kSubscription:
        table->removeSubscription(parsed.space, parsed.id);
        break;
      case model::ResourceKind::kCors:
        table->removeCors(parsed.space, parsed.id);
        break;
    }
  }

  template <class T>
  bool decoded(const Result<T>& r, const model::ParsedKey& parsed, std::string_view key,
               std::string_view space, std::string_view id) {
    if (!r) {
      spdlog::warn("skipping stored value of {} that does not decode: {}", key,
                   r.error().message);
      return false;
    }
    if (!sameIdentity(parsed, space, id)) {
      spdlog::warn("skipping stored value of {}: it describes {}/{}", key, space, id);
      return false;
    }
    return true;
  }

  // `reuse`: the table before a re-list, whose unchanged functions keep their invokers.
  void applyPut(const store::KeyValue& kv, const RoutingTable* reuse = nullptr) {
    auto parsed = model::parseKey(kv.key);
    if (!parsed) {
      if (kv.key == model::kRoutesSentinelKey) sentinelRevision = kv.modRevision;
      return;
    }
    // A new value that does not decode leaves nothing: the previous one goes.
    switch (parsed->kind) {
      case model::ResourceKind::kFunction: {
        auto r = model::decodeStoredFunction(kv.value);
        if (!decoded(r, *parsed, kv.key, r ? r->space : "", r ? r->functionId : "")) break;
        r->metadata.reset();
        table->putFunction(std::move(*r), kv.modRevision, reuse);
        return;
      }
      case model::ResourceKind::kEventType: {
        auto r = model::decodeStoredEventType(kv.value);
        if (!decoded(r, *parsed, kv.key, r ? r->space : "", r ? r->name : "")) break;
        table->putEventType(std::move(*r));
        return;
      }
      case model::ResourceKind::kSubscription: {
        auto r = model::decodeStoredSubscription(kv.value);
        if (!decoded(r, *parsed, kv.key, r ? r->space : "", r ? r->subscriptionId : "")) break;
        table->putSubscription(std::move(*r));
        return;
      }
      case model::ResourceKind::kCors: {
        auto r = model::decodeStoredCors(kv.value);
        if (!decoded(r, *parsed, kv.key, r ? r->space : "", r ? r->corsId : "")) break;
        table->putCors(std::move(*r));
        return;
      }
    }
    eraseKey(*parsed);
  }

  void applyDelete(std::string_view key) {
    auto parsed = model::parseKey(key);
    if (!parsed) {
      if (key == model::kRoutesSentinelKey) sentinelRevision = 0;
      return;
    }
    eraseKey(*parsed);
  }

  // Replaces everything with `range`. Functions come first, so that each subscription
  // finds its function when it is added rather than being re-pointed later.
  void loadAll(const store::RangeResult& range) {
    std::lock_guard lock(mu);
    std::unique_ptr<RoutingTable> previous = std::exchange(table, std::make_unique<RoutingTable>(registry));
    sentinelRevision = 0;
    const auto isFunction = [](const store::KeyValue& kv) {
      auto parsed = model::parseKey(kv.key);
      return parsed && parsed->kind == model::ResourceKind::kFunction;
    };
    for (const auto& kv : range.kvs) {
      if (isFunction(kv)) applyPut(kv, previous.get());
    }
    for (const auto& kv : range.kvs) {
      if (!isFunction(kv)) applyPut(kv);
    }
    applied.store(range.revision, std::memory_order_release);
  }

  // --- watching ----------------------------------------------------------------------

  void startWatch(int64_t fromRevision) {
    std::lock_guard lock(watchMu);
    if (stopping.load()) return;
    watch = store.watch("", fromRevision,
                        [this](Result<store::WatchBatch> r) { onWatch(std::move(r)); });
  }

  void onWatch(Result<store::WatchBatch> result) {
    if (stopping.load()) return;
    if (!result) {
      if (result.error().kind == ErrorKind::kCompacted) {
        spdlog::warn("configuration watch fell behind compaction ({}); reading everything again",
                     result.error().message);
        asio::co_spawn(ioc, relist(), [](std::exception_ptr e) {
          if (!e) return;
          try {
            std::rethrow_exception(e);
          } catch (const std::exception& ex) {
            spdlog::error("re-listing the configuration failed: {}", ex.what());
          }
        });
      } else {
        spdlog::warn("configuration watch interrupted ({}); routing on the last snapshot",
                     result.error().message);
      }
      return;
    }
    const auto& batch = *result;
    {
      std::lock_guard lock(mu);
      const int64_t already = applied.load(std::memory_order_relaxed);
      for (const auto& ev : batch.events) {
        if (ev.kv.modRevision != 0 && ev.kv.modRevision <= already) continue;  // seen in a list
        if (ev.type == store::WatchEvent::Type::kPut) {
          applyPut(ev.kv);
        } else {
          applyDelete(ev.kv.key);
        }
      }
      if (batch.revision > already) applied.store(batch.revision, std::memory_order_release);
    }
    // A snapshot costs O(1), so the batch is published here, on the watch's thread: no
    // hand-off between the change and routing.
    publishApplied();
  }

  asio::awaitable<void> relist() {
    relists.fetch_add(1, std::memory_order_relaxed);
    {
      std::lock_guard lock(watchMu);
      watch.reset();
    }
    std::chrono::milliseconds backoff{50};
    asio::steady_timer timer(ioc);
    while (!stopping.load()) {
      auto r = co_await store.list("");
      if (r) {
        loadAll(*r);
        publishApplied();
        startWatch(r->revision + 1);
        co_return;
      }
      spdlog::warn("cannot read the configuration ({}); retrying in {} ms", r.error().message,
                   backoff.count());
      timer.expires_after(backoff);
      co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
    }
  }

  // --- snapshots -----------------------------------------------------------------------

  // A snapshot of the table as applied: O(1), whatever its size.
  void publishApplied() {
    std::lock_guard order(publishMu);
    std::shared_ptr<const Snapshot> snap;
    {
      std::lock_guard lock(mu);
      snap = table->snapshot(applied.load(std::memory_order_relaxed));
    }
    publish(std::move(snap));
  }

  void publish(std::shared_ptr<const Snapshot> snap) {
    // Freed here, outside the critical section. Whoever sees the new snapshot
    // (publishedRevision, so waitForRevision) also sees its generation.
    auto previous = current.publish(snap);
    const int64_t revision = snap->revision();
    {
      std::lock_guard lock(waitersMu);
      auto ready = std::partition(waiters.begin(), waiters.end(),
                                  [&](const auto& w) { return w->revision > revision; });
      for (auto it = ready; it != waiters.end(); ++it) {
        // The timer is only touched on its own executor; an expiry in the past also
        // wakes a wait that has not started yet.
        asio::post((*it)->timer.get_executor(), [w = *it] {
          w->timer.expires_at(asio::steady_timer::time_point::min());
        });
      }
      waiters.erase(ready, waiters.end());
    }
    std::vector<std::function<void(const Snapshot&)>> toCall;
    {
      std::lock_guard lock(listenersMu);
      toCall = listeners;
    }
    for (const auto& listener : toCall) {
      try {
        listener(*snap);
      } catch (const std::exception& e) {
        spdlog::error("snapshot listener failed: {}", e.what());
      }
    }
  }

  void stop() {
    stopping.store(true);
    {
      std::lock_guard lock(watchMu);
      watch.reset();
    }
    work.reset();
    ioc.stop();
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) thread.join();
  }
};

ConfigCache::ConfigCache(store::Store& store, const providers::ProviderRegistry& registry)
    : impl_(std::make_unique<Impl>(store, registry)) {}

ConfigCache::~ConfigCache() { stop(); }

asio::awaitable<Status> ConfigCache::start() {
  auto range = co_await impl_->store.list("");
  if (!range) {
    co_return Error::unavailable("cannot read the configuration from the store: " +
                                 range.error().message);
  }
  impl_->loadAll(*range);
  impl_->publishApplied();
  if (!impl_->thread.joinable()) {
    impl_->thread = std::thread([impl = impl_.get()] { impl->ioc.run(); });
  }
  impl_->startWatch(range->revision + 1);
  spdlog::debug("configuration loaded at revision {}", range->revision);
  co_return Status{};
}

void ConfigCache::stop() { impl_->stop(); }

std::shared_ptr<const Snapshot> ConfigCache::snapshot() const {
  return impl_->current.load();
}

int64_t ConfigCache::appliedRevision() const {
  return impl_->applied.load(std::memory_order_acquire);
}

uint64_t ConfigCache::relists() const { return impl_->relists.load(std::memory_order_relaxed); }

ConfigCache::SyncCheck ConfigCache::checkSyncRoute(const model::Subscription& candidate) const {
  std::lock_guard lock(impl_->mu);
  SyncCheck result{Status{}, impl_->sentinelRevision};
  if (candidate.type != model::SubscriptionType::kSync) return result;
  result.status = impl_->table->checkSync(candidate);
  return result;
}

asio::awaitable<bool> ConfigCache::waitForRevision(int64_t revision,
                                                   std::chrono::milliseconds timeout) {
  Impl& impl = *impl_;
  if (impl.publishedRevision() >= revision) co_return true;
  auto waiter = std::make_shared<Waiter>(co_await asio::this_coro::executor, revision);
  waiter->timer.expires_after(timeout);
  {
    std::lock_guard lock(impl.waitersMu);
    if (impl.publishedRevision() >= revision) co_return true;
    impl.waiters.push_back(waiter);
  }
  co_await waiter->timer.async_wait(asio::as_tuple(asio::use_awaitable));
  {
    std::lock_guard lock(impl.waitersMu);
    std::erase(impl.waiters, waiter);
  }
  co_return impl.publishedRevision() >= revision;
}

void ConfigCache::onSnapshot(std::function<void(const Snapshot&)> listener) {
  std::lock_guard lock(impl_->listenersMu);
  impl_->listeners.push_back(std::move(listener));
}

}  // namespace eg::routing
