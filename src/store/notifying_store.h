#pragma once

#include <functional>

#include "store/store.h"

namespace eg::store {

// A Store that forwards every call to `inner` and, after each write that took effect
// (put, create, compareAndSwap, remove, and a txn or txnApplied whose compares held), calls
// `onCommit` with the write's revision, on the thread the write completes on, before
// the caller resumes. Writes that fail or transactions that do not apply are not
// reported. `inner` must outlive it; `onCommit` must be cheap and thread-safe.
class NotifyingStore final : public Store {
 public:
  using CommitHandler = std::function<void(int64_t revision)>;

  NotifyingStore(Store& inner, CommitHandler onCommit);

  asio::awaitable<Result<std::optional<KeyValue>>> get(std::string key) override;
  asio::awaitable<Result<RangeResult>> list(std::string prefix) override;
  asio::awaitable<Result<int64_t>> put(std::string key, std::string value) override;
  asio::awaitable<Result<int64_t>> create(std::string key, std::string value) override;
  asio::awaitable<Result<int64_t>> compareAndSwap(std::string key, std::string value,
                                                  int64_t expectedModRevision) override;
  asio::awaitable<Result<int64_t>> remove(std::string key) override;
  asio::awaitable<Result<TxnResult>> txn(std::vector<Compare> compares,
                                         std::vector<Op> ops) override;
  asio::awaitable<Result<TxnResult>> txnApplied(std::vector<Compare> compares,
                                                std::vector<Op> ops) override;
  asio::awaitable<Status> durable(int64_t revision) override;
  std::unique_ptr<Watch> watch(std::string prefix, int64_t fromRevision,
                               WatchHandler handler) override;
  bool healthy() const override;
  std::string name() const override;
  bool soleWriter() const override;
  std::optional<asio::any_io_executor> home() override { return inner_.home(); }

 private:
  Result<int64_t> reported(Result<int64_t> r);

  Store& inner_;
  CommitHandler onCommit_;
};

}  // namespace eg::store
