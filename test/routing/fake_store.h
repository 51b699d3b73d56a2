#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "store/store.h"

namespace eg::routing::testing {

namespace asio = boost::asio;

// An in-memory Store with etcd revision semantics and watch history, for unit tests of
// the cache. Watch handlers run serially on the fake's own thread.
class FakeStore final : public store::Store {
 public:
  FakeStore() : work_(asio::make_work_guard(ioc_)), thread_([this] { ioc_.run(); }) {}
  ~FakeStore() override {
    work_.reset();
    thread_.join();
  }

  // Synchronous helpers for tests; each is one revision.
  int64_t putNow(const std::string& key, const std::string& value) {
    std::lock_guard lock(mu_);
    return commitLocked({{store::Op::Type::kPut, key, value}});
  }
  int64_t removeNow(const std::string& key) {
    std::lock_guard lock(mu_);
    return commitLocked({{store::Op::Type::kDelete, key, ""}});
  }
  // Forgets history up to `revision` and ends every watch with kCompacted.
  void compactAndEndWatches(int64_t revision) {
    std::lock_guard lock(mu_);
    compacted_ = revision;
    for (auto& w : watchers_) {
      asio::post(ioc_, [w] { w->deliver(Error::compacted("compacted"), true); });
    }
    watchers_.clear();
  }
  // An informational error on every watch (they stay open).
  void interruptWatches() {
    std::lock_guard lock(mu_);
    for (auto& w : watchers_) {
      asio::post(ioc_, [w] { w->deliver(Error::unavailable("connection lost"), false); });
    }
  }
  void setListFails(bool fails) {
    std::lock_guard lock(mu_);
    listFails_ = fails;
  }
  int listCalls() {
    std::lock_guard lock(mu_);
    return listCalls_;
  }

  asio::awaitable<Result<std::optional<store::KeyValue>>> get(std::string key) override {
    std::lock_guard lock(mu_);
    auto it = data_.find(key);
    if (it == data_.end()) co_return std::optional<store::KeyValue>();
    co_return std::optional<store::KeyValue>(it->second);
  }
  asio::awaitable<Result<store::RangeResult>> list(std::string prefix) override {
    std::lock_guard lock(mu_);
    ++listCalls_;
    if (listFails_) co_return Error::unavailable("store down");
    store::RangeResult r;
    r.revision = revision_;
    for (auto it = data_.lower_bound(prefix); it != data_.end() && it->first.starts_with(prefix);
         ++it) {
      r.kvs.push_back(it->second);
    }
    co_return r;
  }
  asio::awaitable<Result<int64_t>> put(std::string key, std::string value) override {
    co_return putNow(key, value);
  }
  asio::awaitable<Result<int64_t>> create(std::string key, std::string value) override {
    std::lock_guard lock(mu_);
    if (data_.count(key)) co_return Error::alreadyExists(key);
    co_return commitLocked({{store::Op::Type::kPut, key, value}});
  }
  asio::awaitable<Result<int64_t>> compareAndSwap(std::string key, std::string value,
                                                  int64_t expected) override {
    std::lock_guard lock(mu_);
    if (modRevisionLocked(key) != expected) co_return Error::conflict(key);
    co_return commitLocked({{store::Op::Type::kPut, key, value}});
  }
  asio::awaitable<Result<int64_t>> remove(std::string key) override {
    std::lock_guard lock(mu_);
    if (!data_.count(key)) co_return Error::notFound(key);
    co_return commitLocked({{store::Op::Type::kDelete, key, ""}});
  }
  asio::awaitable<Result<store::TxnResult>> txn(std::vector<store::Compare> compares,
                                                std::vector<store::Op> ops) override {
    std::lock_guard lock(mu_);
    for (const auto& c : compares) {
      if (modRevisionLocked(c.key) != c.modRevision) co_return store::TxnResult{false, revision_};
    }
    co_return store::TxnResult{true, commitLocked(ops)};
  }

  std::unique_ptr<store::Watch> watch(std::string prefix, int64_t fromRevision,
                                      WatchHandler handler) override {
    std::lock_guard lock(mu_);
    auto w = std::make_shared<Watcher>(prefix, std::move(handler));
    if (fromRevision <= compacted_) {
      asio::post(ioc_, [w] { w->deliver(Error::compacted("compacted"), true); });
      return std::make_unique<Handle>(w);
    }
    for (const auto& batch : history_) {
      if (batch.revision < fromRevision) continue;
      auto filtered = filter(batch, prefix);
      if (!filtered.events.empty()) {
        asio::post(ioc_, [w, filtered] { w->deliver(filtered, false); });
      }
    }
    watchers_.push_back(w);
    return std::make_unique<Handle>(w);
  }

  bool healthy() const override { return true; }
  std::string name() const override { return "fake"; }
  bool soleWriter() const override { return true; }

 private:
  struct Watcher {
    Watcher(std::string p, WatchHandler h) : prefix(std::move(p)), handler(std::move(h)) {}
    void deliver(Result<store::WatchBatch> r, bool last) {
      std::lock_guard lock(m);
      if (!active) return;
      if (last) active = false;
      handler(std::move(r));
    }
    std::string prefix;
    WatchHandler handler;
    std::mutex m;
    bool active = true;
  };
  struct Handle : store::Watch {
    explicit Handle(std::shared_ptr<Watcher> w) : watcher(std::move(w)) {}
    ~Handle() override {
      std::lock_guard lock(watcher->m);
      watcher->active = false;
    }
    std::shared_ptr<Watcher> watcher;
  };

  static store::WatchBatch filter(const store::WatchBatch& batch, const std::string& prefix) {
    store::WatchBatch out;
    out.revision = batch.revision;
    for (const auto& ev : batch.events) {
      if (ev.kv.key.starts_with(prefix)) out.events.push_back(ev);
    }
    return out;
  }

  int64_t modRevisionLocked(const std::string& key) const {
    auto it = data_.find(key);
    return it == data_.end() ? 0 : it->second.modRevision;
  }

  int64_t commitLocked(const std::vector<store::Op>& ops) {
    const int64_t rev = ++revision_;
    store::WatchBatch batch;
    batch.revision = rev;
    for (const auto& op : ops) {
      store::WatchEvent ev;
      if (op.type == store::Op::Type::kPut) {
        auto& kv = data_[op.key];
        if (kv.createRevision == 0) kv.createRevision = rev;
        kv.key = op.key;
        kv.value = op.value;
        kv.modRevision = rev;
        ev.type = store::WatchEvent::Type::kPut;
        ev.kv = kv;
      } else {
        data_.erase(op.key);
        ev.type = store::WatchEvent::Type::kDelete;
        ev.kv.key = op.key;
        ev.kv.modRevision = rev;
      }
      batch.events.push_back(std::move(ev));
    }
    history_.push_back(batch);
    for (auto& w : watchers_) {
      auto filtered = filter(batch, w->prefix);
      if (filtered.events.empty()) continue;
      asio::post(ioc_, [w, filtered] { w->deliver(filtered, false); });
    }
    return rev;
  }

  std::mutex mu_;
  std::map<std::string, store::KeyValue> data_;
  std::vector<store::WatchBatch> history_;
  std::vector<std::shared_ptr<Watcher>> watchers_;
  int64_t revision_ = 0;
  int64_t compacted_ = 0;
  bool listFails_ = false;
  int listCalls_ = 0;
  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace eg::routing::testing
