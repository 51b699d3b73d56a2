#include "store/embedded_store.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <exception>
#include <filesystem>
#include <mutex>
#include <set>
#include <system_error>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <spdlog/spdlog.h>
#include <sqlite3.h>

#include "common/call_on.h"
#include "common/thread_policy.h"
#include "store/embedded_reader.h"
#include "store/sqlite_util.h"

namespace eg::store {

namespace detail {

// Shared by the Watch the caller holds and the store's registry, so that either may
// go first.
struct EmbeddedWatcher {
  std::string prefix;
  int64_t fromRevision = 0;
  Store::WatchHandler handler;
  std::thread::id storeThread;
  // Held while the handler runs, so that cancelling from another thread waits for a
  // running handler to return.
  std::mutex callMutex;
  std::atomic<bool> cancelled{false};
  bool ended = false;  // store thread only

  // Store thread only. Returns false when the watcher is cancelled.
  bool deliver(Result<WatchBatch> result) {
    std::lock_guard lock(callMutex);
    if (cancelled.load(std::memory_order_acquire)) {
      handler = nullptr;
      return false;
    }
    try {
      handler(std::move(result));
    } catch (const std::exception& e) {
      spdlog::error("store watch handler for prefix '{}' threw: {}", prefix, e.what());
    } catch (...) {
      spdlog::error("store watch handler for prefix '{}' threw", prefix);
    }
    // The handler may have cancelled its own watch; it is no longer running now.
    if (cancelled.load(std::memory_order_acquire)) {
      handler = nullptr;
      return false;
    }
    return true;
  }
};

}  // namespace detail

namespace {

using namespace sqlite;
using detail::EmbeddedWatcher;

constexpr int kTypePut = 0;
constexpr int kTypeDelete = 1;
// Replayed history is handed over in batches of about this many events (never splitting
// a revision), so that a long replay does not build one huge batch.
constexpr size_t kReplayBatchEvents = 1000;

// Revisions compacted at once: the store keeps between `historyLimit` revisions and that
// many more. A sixteenth of the limit, at most 256 (a few dozen pages to free).
int64_t compactionBatch(int64_t historyLimit) {
  return std::clamp<int64_t>(historyLimit / 16, 1, 256);
}

class EmbeddedWatch final : public Watch {
 public:
  explicit EmbeddedWatch(std::shared_ptr<EmbeddedWatcher> watcher)
      : watcher_(std::move(watcher)) {}

  ~EmbeddedWatch() override {
    if (std::this_thread::get_id() == watcher_->storeThread) {
      // Handlers run only on the store thread, so none can be running concurrently; the
      // one calling us (if any) is checked again when it returns.
      watcher_->cancelled.store(true, std::memory_order_release);
      return;
    }
    std::lock_guard lock(watcher_->callMutex);
    watcher_->cancelled.store(true, std::memory_order_release);
    watcher_->handler = nullptr;
  }

 private:
  std::shared_ptr<EmbeddedWatcher> watcher_;
};

// An exclusive lock on <dataDir>/store.lock, tried until `timeout`; the descriptor holds it.
Result<int> lockDirectory(const std::string& dataDir, std::chrono::milliseconds timeout) {
  const std::string path = (std::filesystem::path(dataDir) / "store.lock").string();
  const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error::internal("cannot open " + path + ": " + std::strerror(errno));
  const auto giveUp = std::chrono::steady_clock::now() + timeout;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK || std::chrono::steady_clock::now() >= giveUp) {
      const int error = errno;
      ::close(fd);
      return Error::internal(path + ": the store is locked by another process (" +
                             std::strerror(error) + ")");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return fd;
}

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS kv(
  key TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS meta(
  name TEXT PRIMARY KEY,
  value INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS log(
  rev INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  key TEXT NOT NULL,
  type INTEGER NOT NULL,
  value BLOB NOT NULL,
  create_rev INTEGER NOT NULL,
  PRIMARY KEY(rev, idx)) WITHOUT ROWID;
INSERT OR IGNORE INTO meta(name, value) VALUES('revision', 0), ('compacted', 0);
)sql";

}  // namespace

struct EmbeddedStore::Applied {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision afterwards
  size_t changes = 0;    // keys written or deleted
};

Result<std::unique_ptr<EmbeddedStore>> EmbeddedStore::open(const std::string& dataDir,
                                                            EmbeddedStoreOptions options) {
  if (options.historyLimit < 1) {
    return Error::invalid("store history limit must be at least 1");
  }
  std::error_code ec;
  std::filesystem::create_directories(dataDir, ec);
  if (ec) {
    return Error::internal("cannot create store directory " + dataDir + ": " + ec.message());
  }
  // The store keeps the revision and the watchers in memory, so a second writer would
  // break both: one process owns a data directory, by a lock on a file of its own.
  auto lock = lockDirectory(dataDir, options.busyTimeout);
  if (!lock) return std::move(lock).error();
  std::string path = (std::filesystem::path(dataDir) / "store.db").string();
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           kVfs);
  if (rc != SQLITE_OK) {
    std::string message = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Error::internal("cannot open " + path + ": " + message);
  }
  sqlite3_busy_timeout(db, static_cast<int>(options.busyTimeout.count()));
  sqlite3_extended_result_codes(db, 1);

  auto fail = [&](Error error) -> Result<std::unique_ptr<EmbeddedStore>> {
    sqlite3_close_v2(db);
    error.message = path + ": " + error.message;
    return error;
  };
  // synchronous=NORMAL: a commit appends to the WAL without syncing it (checkpoints still
  // sync); GroupSync makes commits durable in groups before they are acknowledged. Normal
  // locking, so that lists read on a connection of their own (EmbeddedReader).
  for (const char* pragma : {"PRAGMA synchronous=NORMAL", "PRAGMA foreign_keys=OFF"}) {
    if (auto s = exec(db, pragma); !s) return fail(std::move(s).error());
  }
  {
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &s, nullptr) != SQLITE_OK) {
      return fail(Error::internal(std::string("journal_mode: ") + sqlite3_errmsg(db)));
    }
    rc = sqlite3_step(s);
    std::string mode = rc == SQLITE_ROW ? columnText(s, 0) : std::string();
    std::string message = sqlite3_errmsg(db);
    sqlite3_finalize(s);
    if (rc != SQLITE_ROW) {
      return fail(Error::internal("journal_mode=WAL: " + message));
    }
    if (mode != "wal") {
      return fail(Error::internal("journal_mode=WAL not accepted (got " + mode + ")"));
    }
  }
  if (auto s = exec(db, "BEGIN IMMEDIATE"); !s) return fail(std::move(s).error());
  if (auto s = exec(db, kSchema); !s) {
    execQuietly(db, "ROLLBACK");
    return fail(std::move(s).error());
  }
  if (auto s = exec(db, "COMMIT"); !s) {
    execQuietly(db, "ROLLBACK");
    return fail(std::move(s).error());
  }

  auto reader = EmbeddedReader::open(path, options.busyTimeout);
  if (!reader) return fail(std::move(reader).error());

  std::unique_ptr<EmbeddedStore> store(new EmbeddedStore(db, options));
  store->lockFd_ = *lock;
  store->reader_ = std::move(*reader);
  // Nothing runs on the store thread yet, so the state can be read from here.
  if (auto s = store->loadState(); !s) {
    Error error = std::move(s).error();
    error.message = path + ": " + error.message;
    return error;
  }
  auto sync = GroupSync::forFile(path + "-wal", store->revision_);
  if (!sync) {
    Error error = std::move(sync).error();
    error.message = path + ": " + error.message;
    return error;
  }
  store->sync_ = std::move(*sync);
  return store;
}

EmbeddedStore::EmbeddedStore(sqlite3* db, EmbeddedStoreOptions options)
    : db_(db), options_(options), work_(ioc_.get_executor()) {
  thread_ = std::thread([this] {
    becomeBatchThread("eg-store");
    ioc_.run();
  });
}

EmbeddedStore::~EmbeddedStore() {
  // Queued operations still run (their callers are waiting for them, some for a sync);
  // then the thread has nothing left and returns.
  work_.reset();
  if (thread_.joinable()) thread_.join();
  sync_.reset();
  reader_.reset();
  for (auto& watcher : watchers_) watcher->ended = true;
  watchers_.clear();
  for (auto& [sql, s] : statements_) sqlite3_finalize(s);
  sqlite3_close_v2(db_);
  if (lockFd_ >= 0) ::close(lockFd_);
}

template <class T, class Fn>
asio::awaitable<T> EmbeddedStore::onStoreThread(Fn fn) {
  return callOn<T>(ioc_, std::move(fn));
}

sqlite3_stmt* EmbeddedStore::statement(const char* sql) {
  for (auto& [text, s] : statements_) {
    if (text == sql) return s;
  }
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) {
    return nullptr;
  }
  statements_.emplace_back(sql, s);
  return s;
}

Error EmbeddedStore::sqliteError(const char* what) const {
  return Error::internal(std::string("sqlite: ") + what + ": " + sqlite3_errmsg(db_));
}

Status EmbeddedStore::loadState() {
  {
    sqlite3_stmt* s = statement("SELECT value FROM meta WHERE name = 'compacted'");
    if (s == nullptr) return sqliteError("load meta");
    StatementScope scope(s);
    if (sqlite3_step(s) != SQLITE_ROW) return sqliteError("load meta");
    compacted_ = sqlite3_column_int64(s, 0);
  }
  sqlite3_stmt* s = statement(kRevisionSql);
  if (s == nullptr) return sqliteError("load revision");
  StatementScope scope(s);
  if (sqlite3_step(s) != SQLITE_ROW) return sqliteError("load revision");
  revision_.store(sqlite3_column_int64(s, 0), std::memory_order_release);
  return {};
}

asio::awaitable<Result<std::optional<KeyValue>>> EmbeddedStore::get(std::string key) {
  using R = Result<std::optional<KeyValue>>;
  return onStoreThread<R>([this, key = std::move(key)]() -> R {
    constexpr const char* kSql = "SELECT value, create_rev, mod_rev FROM kv WHERE key = ?1";
    sqlite3_stmt* s = statement(kSql);
    if (s == nullptr) return sqliteError("get");
    StatementScope scope(s);
    bindText(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return std::optional<KeyValue>();
    if (rc != SQLITE_ROW) return sqliteError("get");
    return std::optional<KeyValue>(KeyValue{key, columnBlob(s, 0), sqlite3_column_int64(s, 1),
                                            sqlite3_column_int64(s, 2)});
  });
}

asio::awaitable<Result<RangeResult>> EmbeddedStore::list(std::string prefix) {
  return reader_->list(std::move(prefix));
}

asio::awaitable<Result<int64_t>> EmbeddedStore::whenDurable(
    asio::awaitable<Result<int64_t>> applied) {
  auto revision = co_await std::move(applied);
  if (!revision) co_return revision;
  if (auto s = co_await sync_->durable(*revision); !s) co_return std::move(s).error();
  co_return revision;
}

asio::awaitable<Status> EmbeddedStore::durable(int64_t revision) {
  return sync_->durable(revision);
}

asio::awaitable<Result<int64_t>> EmbeddedStore::put(std::string key, std::string value) {
  using R = Result<int64_t>;
  return whenDurable(onStoreThread<R>(
      [this, key = std::move(key), value = std::move(value)]() mutable -> R {
        auto applied = apply({}, {Op{Op::Type::kPut, std::move(key), std::move(value)}});
        if (!applied) return std::move(applied).error();
        return applied->revision;
      }));
}

asio::awaitable<Result<int64_t>> EmbeddedStore::create(std::string key, std::string value) {
  using R = Result<int64_t>;
  return whenDurable(onStoreThread<R>(
      [this, key = std::move(key), value = std::move(value)]() mutable -> R {
        auto applied = apply({Compare{key, 0}}, {Op{Op::Type::kPut, key, std::move(value)}});
        if (!applied) return std::move(applied).error();
        if (!applied->succeeded) return Error::alreadyExists("key exists: " + key);
        return applied->revision;
      }));
}

asio::awaitable<Result<int64_t>> EmbeddedStore::compareAndSwap(std::string key, std::string value,
                                                               int64_t expectedModRevision) {
  using R = Result<int64_t>;
  return whenDurable(onStoreThread<R>([this, key = std::move(key), value = std::move(value),
                                       expectedModRevision]() mutable -> R {
    auto applied = apply({Compare{key, expectedModRevision}},
                         {Op{Op::Type::kPut, key, std::move(value)}});
    if (!applied) return std::move(applied).error();
    if (!applied->succeeded) {
      return Error::conflict("key " + key + " is not at revision " +
                             std::to_string(expectedModRevision));
    }
    return applied->revision;
  }));
}

asio::awaitable<Result<int64_t>> EmbeddedStore::remove(std::string key) {
  using R = Result<int64_t>;
  return whenDurable(onStoreThread<R>([this, key = std::move(key)]() -> R {
    auto applied = apply({}, {Op{Op::Type::kDelete, key, {}}});
    if (!applied) return std::move(applied).error();
    if (applied->changes == 0) return Error::notFound("key not found: " + key);
    return applied->revision;
  }));
}

asio::awaitable<Result<TxnResult>> EmbeddedStore::txnApplied(std::vector<Compare> compares,
                                                              std::vector<Op> ops) {
  using R = Result<TxnResult>;
  return onStoreThread<R>(
      [this, compares = std::move(compares), ops = std::move(ops)]() -> R {
        auto applied = apply(compares, ops);
        if (!applied) return std::move(applied).error();
        return TxnResult{applied->succeeded, applied->revision};
      });
}

asio::awaitable<Result<TxnResult>> EmbeddedStore::txn(std::vector<Compare> compares,
                                                       std::vector<Op> ops) {
  auto r = co_await txnApplied(std::move(compares), std::move(ops));
  if (!r || !r->succeeded) co_return r;
  if (auto s = co_await sync_->durable(r->revision); !s) co_return std::move(s).error();
  co_return r;
}

asio::awaitable<Status> EmbeddedStore::compact(int64_t revision) {
  return onStoreThread<Status>([this, revision]() -> Status {
    if (revision > revision_.load(std::memory_order_acquire)) {
      return Error::invalid("cannot compact to future revision " + std::to_string(revision));
    }
    const int64_t compactedBefore = compacted_;
    if (auto s = exec(db_, "BEGIN IMMEDIATE"); !s) return s;
    if (auto s = compactThrough(revision - 1); !s) {
      execQuietly(db_, "ROLLBACK");
      compacted_ = compactedBefore;
      return s;
    }
    if (auto s = exec(db_, "COMMIT"); !s) {
      execQuietly(db_, "ROLLBACK");
      compacted_ = compactedBefore;
      return s;
    }
    return {};
  });
}

Status EmbeddedStore::compactThrough(int64_t revision) {
  if (revision <= compacted_) return {};
  {
    sqlite3_stmt* s = statement("DELETE FROM log WHERE rev <= ?1");
    if (s == nullptr) return sqliteError("compact");
    StatementScope scope(s);
    sqlite3_bind_int64(s, 1, revision);
    if (sqlite3_step(s) != SQLITE_DONE) return sqliteError("compact");
  }
  {
    sqlite3_stmt* s = statement("UPDATE meta SET value = ?1 WHERE name = 'compacted'");
    if (s == nullptr) return sqliteError("compact");
    StatementScope scope(s);
    sqlite3_bind_int64(s, 1, revision);
    if (sqlite3_step(s) != SQLITE_DONE) return sqliteError("compact");
  }
  compacted_ = revision;
  return {};
}

Result<EmbeddedStore::Applied> EmbeddedStore::apply(const std::vector<Compare>& compares,
                                                    const std::vector<Op>& ops) {
  {
    std::set<std::string_view> seen;
    for (const auto& op : ops) {
      if (op.key.empty()) return Error::invalid("empty key");
      if (!seen.insert(op.key).second) return Error::invalid("duplicate key in txn: " + op.key);
    }
  }
  if (!sync_->healthy()) {
    // What is applied now could not be made durable: refuse it rather than answer it.
    return Error::unavailable("the store could not make its writes durable; restart it");
  }
  const int64_t current = revision_.load(std::memory_order_acquire);
  const int64_t next = current + 1;
  const int64_t compactedBefore = compacted_;

  if (auto s = exec(db_, "BEGIN IMMEDIATE"); !s) return std::move(s).error();
  auto rollback = [&](Error error) -> Result<Applied> {
    execQuietly(db_, "ROLLBACK");
    compacted_ = compactedBefore;
    return error;
  };

  // Existing create_rev and mod_rev of a key; {0, 0} when absent.
  auto lookup = [&](const std::string& key) -> Result<std::pair<int64_t, int64_t>> {
    sqlite3_stmt* s = statement("SELECT create_rev, mod_rev FROM kv WHERE key = ?1");
    if (s == nullptr) return sqliteError("read");
    StatementScope scope(s);
    bindText(s, 1, key);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_DONE) return std::pair<int64_t, int64_t>(0, 0);
    if (rc != SQLITE_ROW) return sqliteError("read");
    return std::pair<int64_t, int64_t>(sqlite3_column_int64(s, 0), sqlite3_column_int64(s, 1));
  };

  auto holds = [&](const Compare& compare) -> Result<bool> {
    if (!compare.prefix) {
      auto found = lookup(compare.key);
      if (!found) return std::move(found).error();
      return found->second == compare.modRevision;
    }
    // Whether no key under the prefix was written after the revision.
    const std::string end = prefixEnd(compare.key);
    sqlite3_stmt* s = statement(
        end.empty() ? "SELECT 1 FROM kv WHERE key >= ?1 AND mod_rev > ?3 LIMIT 1"
                    : "SELECT 1 FROM kv WHERE key >= ?1 AND key < ?2 AND mod_rev > ?3 LIMIT 1");
    if (s == nullptr) return sqliteError("read");
    StatementScope scope(s);
    bindText(s, 1, compare.key);
    if (!end.empty()) bindText(s, 2, end);
    sqlite3_bind_int64(s, 3, compare.modRevision);
    const int rc = sqlite3_step(s);
    if (rc != SQLITE_DONE && rc != SQLITE_ROW) return sqliteError("read");
    return rc == SQLITE_DONE;
  };

  for (const auto& compare : compares) {
    auto held = holds(compare);
    if (!held) return rollback(std::move(held).error());
    if (!*held) {
      execQuietly(db_, "ROLLBACK");
      return Applied{false, current, 0};
    }
  }

  std::vector<WatchEvent> events;
  for (const auto& op : ops) {
    auto found = lookup(op.key);
    if (!found) return rollback(std::move(found).error());
    int64_t createRev = found->first;
    if (op.type == Op::Type::kPut) {
      if (createRev == 0) createRev = next;
      sqlite3_stmt* s = statement(
          "INSERT INTO kv(key, value, create_rev, mod_rev) VALUES(?1, ?2, ?3, ?4) "
          "ON CONFLICT(key) DO UPDATE SET value = excluded.value, mod_rev = excluded.mod_rev");
      if (s == nullptr) return rollback(sqliteError("put"));
      StatementScope scope(s);
      bindText(s, 1, op.key);
      bindBlob(s, 2, op.value);
      sqlite3_bind_int64(s, 3, createRev);
      sqlite3_bind_int64(s, 4, next);
      if (sqlite3_step(s) != SQLITE_DONE) return rollback(sqliteError("put"));
      events.push_back(WatchEvent{WatchEvent::Type::kPut, KeyValue{op.key, op.value, createRev, next}});
    } else {
      if (createRev == 0) continue;  // deleting an absent key changes nothing
      sqlite3_stmt* s = statement("DELETE FROM kv WHERE key = ?1");
      if (s == nullptr) return rollback(sqliteError("delete"));
      StatementScope scope(s);
      bindText(s, 1, op.key);
      if (sqlite3_step(s) != SQLITE_DONE) return rollback(sqliteError("delete"));
      events.push_back(WatchEvent{WatchEvent::Type::kDelete, KeyValue{op.key, {}, 0, next}});
    }
  }

  if (events.empty()) {
    // Nothing changed, so no new revision (as etcd).
    execQuietly(db_, "ROLLBACK");
    return Applied{true, current, 0};
  }

  for (size_t i = 0; i < events.size(); ++i) {
    const auto& event = events[i];
    sqlite3_stmt* s = statement(
        "INSERT INTO log(rev, idx, key, type, value, create_rev) VALUES(?1, ?2, ?3, ?4, ?5, ?6)");
    if (s == nullptr) return rollback(sqliteError("log"));
    StatementScope scope(s);
    sqlite3_bind_int64(s, 1, next);
    sqlite3_bind_int64(s, 2, static_cast<int64_t>(i));
    bindText(s, 3, event.kv.key);
    sqlite3_bind_int(s, 4, event.type == WatchEvent::Type::kPut ? kTypePut : kTypeDelete);
    bindBlob(s, 5, event.kv.value);
    sqlite3_bind_int64(s, 6, event.kv.createRevision);
    if (sqlite3_step(s) != SQLITE_DONE) return rollback(sqliteError("log"));
  }
  // The log's newest row is the revision (kRevisionSql). Compacting in batches rather
  // than a revision per commit spares most commits two pages (the log's oldest leaf
  // and meta), about a third of what a commit writes.
  if (const int64_t through = next - options_.historyLimit;
      through - compacted_ >= compactionBatch(options_.historyLimit)) {
    if (auto s = compactThrough(through); !s) return rollback(std::move(s).error());
  }
  if (auto s = exec(db_, "COMMIT"); !s) return rollback(std::move(s).error());

  revision_.store(next, std::memory_order_release);
  publish(next, events);
  return Applied{true, next, events.size()};
}

void EmbeddedStore::publish(int64_t revision, const std::vector<WatchEvent>& events) {
  // A handler may start or cancel watches; iterate over a copy.
  auto watchers = watchers_;
  for (const auto& watcher : watchers) {
    if (watcher->ended || watcher->cancelled.load(std::memory_order_acquire)) continue;
    if (revision < watcher->fromRevision) continue;
    WatchBatch batch{revision, {}};
    for (const auto& event : events) {
      if (event.kv.key.starts_with(watcher->prefix)) batch.events.push_back(event);
    }
    if (batch.events.empty()) continue;
    if (!watcher->deliver(std::move(batch))) watcher->ended = true;
  }
  std::erase_if(watchers_, [](const auto& w) {
    return w->ended || w->cancelled.load(std::memory_order_acquire);
  });
}

std::unique_ptr<Watch> EmbeddedStore::watch(std::string prefix, int64_t fromRevision,
                                            WatchHandler handler) {
  auto watcher = std::make_shared<EmbeddedWatcher>();
  watcher->prefix = std::move(prefix);
  // Resolved now rather than on the store thread, so that a write acknowledged before
  // watch() was called is not delivered to a watch "from now".
  watcher->fromRevision =
      fromRevision > 0 ? fromRevision : revision_.load(std::memory_order_acquire) + 1;
  watcher->handler = std::move(handler);
  watcher->storeThread = thread_.get_id();
  asio::post(ioc_, [this, watcher] { startWatcher(watcher); });
  return std::make_unique<EmbeddedWatch>(std::move(watcher));
}

void EmbeddedStore::startWatcher(const std::shared_ptr<EmbeddedWatcher>& watcher) {
  if (watcher->cancelled.load(std::memory_order_acquire)) return;
  if (watcher->fromRevision <= compacted_) {
    watcher->deliver(Error::compacted("revision " + std::to_string(watcher->fromRevision) +
                                      " is compacted; the oldest kept is " +
                                      std::to_string(compacted_ + 1)));
    watcher->ended = true;
    return;
  }
  // Writes run on this thread too, so the log read here and the live events that follow
  // join without a gap or an overlap.
  if (watcher->fromRevision <= revision_.load(std::memory_order_acquire)) {
    sqlite3_stmt* s = statement(
        "SELECT rev, key, type, value, create_rev FROM log WHERE rev >= ?1 ORDER BY rev, idx");
    if (s == nullptr) {
      watcher->deliver(sqliteError("watch replay"));
      watcher->ended = true;
      return;
    }
    std::vector<WatchBatch> batches;
    {
      StatementScope scope(s);
      sqlite3_bind_int64(s, 1, watcher->fromRevision);
      WatchBatch batch;
      int rc;
      while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        int64_t rev = sqlite3_column_int64(s, 0);
        std::string key = columnText(s, 1);
        if (!key.starts_with(watcher->prefix)) continue;
        if (rev != batch.revision && batch.events.size() >= kReplayBatchEvents) {
          batches.push_back(std::move(batch));
          batch = WatchBatch{};
        }
        bool isPut = sqlite3_column_int(s, 2) == kTypePut;
        batch.revision = rev;
        batch.events.push_back(WatchEvent{
            isPut ? WatchEvent::Type::kPut : WatchEvent::Type::kDelete,
            KeyValue{std::move(key), columnBlob(s, 3), sqlite3_column_int64(s, 4), rev}});
      }
      if (rc != SQLITE_DONE) {
        watcher->deliver(sqliteError("watch replay"));
        watcher->ended = true;
        return;
      }
      if (!batch.events.empty()) batches.push_back(std::move(batch));
    }
    for (auto& batch : batches) {
      if (!watcher->deliver(std::move(batch))) return;
    }
  }
  watchers_.push_back(watcher);
}

}  // namespace eg::store
