#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "store/embedded_reader.h"
#include "store/group_sync.h"
#include "store/store.h"

struct sqlite3;
struct sqlite3_stmt;

namespace eg::store {

struct EmbeddedStoreOptions {
  // Revisions of change history kept to serve watches from a past revision; a watch
  // from an older revision gets kCompacted. Compacted in batches: up to a sixteenth
  // more (at most 256) may be kept.
  int64_t historyLimit = 10000;
  // How long opening waits for the database lock held by another process before
  // failing (the store owns its database exclusively while open).
  std::chrono::milliseconds busyTimeout{5000};
};

namespace detail {
struct EmbeddedWatcher;
}

// The Store on a local SQLite database (<dataDir>/store.db, WAL): an acknowledged write
// survives a crash of the process and a power loss.
//  - Writes, gets and every watch handler run on one thread owned by the store (home()).
//    A commit appends to the WAL without a sync of its own; GroupSync syncs it once for
//    every write waiting by then, and a write completes (txn, put, ...) or durable()
//    answers once that sync is done. No caller blocks on fsync.
//  - Lists read on a connection and a thread of their own (EmbeddedReader), so that a
//    long list holds up no write.
// One process owns a data directory at a time (a lock on <dataDir>/store.lock): a second
// open fails while the first is open. The destructor completes queued operations, then
// joins the thread; it must not run on the store's own thread (inside a watch handler).
class EmbeddedStore final : public Store {
 public:
  static Result<std::unique_ptr<EmbeddedStore>> open(const std::string& dataDir,
                                                      EmbeddedStoreOptions options = {});
  ~EmbeddedStore() override;
  EmbeddedStore(const EmbeddedStore&) = delete;
  EmbeddedStore& operator=(const EmbeddedStore&) = delete;

  asio::awaitable<Result<std::optional<KeyValue>>> get(std::string key) override;
  asio::awaitable<Result<RangeResult>> list(std::string prefix) override;
  asio::awaitable<Result<int64_t>> put(std::string key, std::string value) override;
  asio::awaitable<Result<int64_t>> create(std::string key, std::string value) override;
  asio::awaitable<Result<int64_t>> compareAndSwap(std::string key, std::string value,
                                                  int64_t expectedModRevision) override;
  asio::awaitable<Result<int64_t>> remove(std::string key) override;
  // kInvalid when two ops name the same key (as etcd).
  asio::awaitable<Result<TxnResult>> txn(std::vector<Compare> compares,
                                         std::vector<Op> ops) override;
  asio::awaitable<Result<TxnResult>> txnApplied(std::vector<Compare> compares,
                                                std::vector<Op> ops) override;
  asio::awaitable<Status> durable(int64_t revision) override;
  // fromRevision <= 0: only changes after the current revision.
  std::unique_ptr<Watch> watch(std::string prefix, int64_t fromRevision,
                               WatchHandler handler) override;
  // False once a sync of the WAL failed; writes are refused from then on.
  bool healthy() const override { return sync_->healthy(); }
  std::string name() const override { return "embedded"; }
  bool soleWriter() const override { return true; }
  std::optional<asio::any_io_executor> home() override { return ioc_.get_executor(); }

  // Drops the change history before `revision` (as etcd's compact): a watch from a
  // revision below it gets kCompacted. kInvalid when `revision` is in the future.
  asio::awaitable<Status> compact(int64_t revision);

  // The revision of the last committed write (0 for an empty store).
  int64_t currentRevision() const { return revision_.load(std::memory_order_acquire); }

 private:
  struct Applied;

  EmbeddedStore(sqlite3* db, EmbeddedStoreOptions options);

  template <class T, class Fn>
  asio::awaitable<T> onStoreThread(Fn fn);
  // `applied`'s revision, once it is durable.
  asio::awaitable<Result<int64_t>> whenDurable(asio::awaitable<Result<int64_t>> applied);

  // Store thread only.
  Status loadState();
  Result<Applied> apply(const std::vector<Compare>& compares, const std::vector<Op>& ops);
  Status compactThrough(int64_t revision);
  void publish(int64_t revision, const std::vector<WatchEvent>& events);
  void startWatcher(const std::shared_ptr<detail::EmbeddedWatcher>& watcher);
  sqlite3_stmt* statement(const char* sql);
  Error sqliteError(const char* what) const;

  sqlite3* db_;
  EmbeddedStoreOptions options_;
  std::vector<std::pair<const char*, sqlite3_stmt*>> statements_;
  int64_t compacted_ = 0;  // log entries at or below this revision are gone
  std::atomic<int64_t> revision_{0};
  std::vector<std::shared_ptr<detail::EmbeddedWatcher>> watchers_;
  std::unique_ptr<GroupSync> sync_;
  std::unique_ptr<EmbeddedReader> reader_;  // lists
  int lockFd_ = -1;                         // holds the data directory's lock

  asio::io_context ioc_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace eg::store
