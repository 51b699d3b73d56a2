#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>

#include "common/result.h"

namespace eg::store {

namespace asio = boost::asio;

// etcd v3 semantics: every write gets a new, store-wide revision (starting at 1);
// each key remembers the revision that created it and the one that last changed it.
struct KeyValue {
  std::string key;
  std::string value;
  int64_t createRevision = 0;
  int64_t modRevision = 0;
};

struct RangeResult {
  std::vector<KeyValue> kvs;  // sorted by key
  int64_t revision = 0;       // the store's revision when the range was read
};

// A condition of a transaction: the key's modRevision equals `modRevision`
// (0 means "the key does not exist"). With `prefix`, `key` is a prefix and the condition
// is that no key under it has a modRevision above `modRevision`: nothing there was
// created or changed after that revision (deleting a key does not count).
struct Compare {
  std::string key;
  int64_t modRevision = 0;
  bool prefix = false;
};

struct Op {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  std::string key;
  std::string value;  // kPut only
};

struct TxnResult {
  bool succeeded = false;
  int64_t revision = 0;  // the store's revision after the transaction
};

struct WatchEvent {
  enum class Type { kPut, kDelete };
  Type type = Type::kPut;
  KeyValue kv;  // for kDelete: key, and modRevision = the revision of the deletion
};

// Events of one revision or of several consecutive ones, in revision order.
struct WatchBatch {
  int64_t revision = 0;  // the highest revision the batch covers
  std::vector<WatchEvent> events;
};

// Cancels the watch when destroyed; after the destructor returns the handler is not
// called again.
class Watch {
 public:
  virtual ~Watch() = default;
};

// The one interface to configuration storage. Implementations: embedded (SQLite) and
// etcd. All methods are safe to call from any thread; the awaitables resume on the
// caller's executor. A backend that cannot reach its storage answers kUnavailable
// (never hangs longer than its request timeout).
class Store {
 public:
  using WatchHandler = std::function<void(Result<WatchBatch>)>;

  virtual ~Store() = default;

  virtual asio::awaitable<Result<std::optional<KeyValue>>> get(std::string key) = 0;
  // Every key that starts with `prefix`, sorted by key.
  virtual asio::awaitable<Result<RangeResult>> list(std::string prefix) = 0;
  // Returns the new revision.
  virtual asio::awaitable<Result<int64_t>> put(std::string key, std::string value) = 0;
  // Create-only put: kAlreadyExists when the key exists.
  virtual asio::awaitable<Result<int64_t>> create(std::string key, std::string value) = 0;
  // Put only if the key's modRevision is `expectedModRevision` (0: key absent);
  // kConflict otherwise.
  virtual asio::awaitable<Result<int64_t>> compareAndSwap(std::string key, std::string value,
                                                          int64_t expectedModRevision) = 0;
  // kNotFound when the key does not exist. Returns the new revision.
  virtual asio::awaitable<Result<int64_t>> remove(std::string key) = 0;
  // Atomically: if every compare holds, apply every op (succeeded = true); otherwise
  // change nothing (succeeded = false). One revision for the whole transaction.
  virtual asio::awaitable<Result<TxnResult>> txn(std::vector<Compare> compares,
                                                 std::vector<Op> ops) = 0;
  // As txn, but may complete once the transaction is applied (later reads, writes and
  // watches see it) and before it is durable: durable(revision) tells when it survives
  // a power loss. A writer that holds others back until its write is applied lets them
  // in, then waits for durable, so that writes waiting together share one sync.
  virtual asio::awaitable<Result<TxnResult>> txnApplied(std::vector<Compare> compares,
                                                        std::vector<Op> ops) {
    return txn(std::move(compares), std::move(ops));
  }
  // Completes once every write up to `revision` is durable; kUnavailable when the
  // backend could not make it so. Where writes are durable when they complete (etcd),
  // at once.
  virtual asio::awaitable<Status> durable(int64_t revision);

  // Streams every change under `prefix` with revision >= fromRevision, in order, then
  // live changes. The handler is called serially (never concurrently) on a thread the
  // store owns and must not block. kCompacted: fromRevision is no longer kept; the watch
  // has ended and the caller re-lists. kUnavailable: the connection was lost; the backend
  // reconnects by itself and resumes after the last delivered revision (informational).
  virtual std::unique_ptr<Watch> watch(std::string prefix, int64_t fromRevision,
                                       WatchHandler handler) = 0;

  // Whether the backend can currently reach its storage, for /v1/status.
  virtual bool healthy() const = 0;
  // "embedded" or "etcd".
  virtual std::string name() const = 0;
  // Whether this process is the storage's only writer (the embedded store): then its
  // writes, made one at a time, never lose a compare.
  virtual bool soleWriter() const = 0;
  // The executor of the thread this store's calls complete on, when it has one (the
  // embedded store's own thread). A coroutine that makes several calls in a row may run
  // there: each call then completes without a thread hand-off. It must not block.
  virtual std::optional<asio::any_io_executor> home() { return std::nullopt; }
};

}  // namespace eg::store
