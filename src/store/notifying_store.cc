#include "store/notifying_store.h"

#include <utility>

namespace eg::store {

NotifyingStore::NotifyingStore(Store& inner, CommitHandler onCommit)
    : inner_(inner), onCommit_(std::move(onCommit)) {}

Result<int64_t> NotifyingStore::reported(Result<int64_t> r) {
  if (r) onCommit_(*r);
  return r;
}

asio::awaitable<Result<std::optional<KeyValue>>> NotifyingStore::get(std::string key) {
  co_return co_await inner_.get(std::move(key));
}

asio::awaitable<Result<RangeResult>> NotifyingStore::list(std::string prefix) {
  co_return co_await inner_.list(std::move(prefix));
}

asio::awaitable<Result<int64_t>> NotifyingStore::put(std::string key, std::string value) {
  co_return reported(co_await inner_.put(std::move(key), std::move(value)));
}

asio::awaitable<Result<int64_t>> NotifyingStore::create(std::string key, std::string value) {
  co_return reported(co_await inner_.create(std::move(key), std::move(value)));
}

asio::awaitable<Result<int64_t>> NotifyingStore::compareAndSwap(std::string key,
                                                                std::string value,
                                                                int64_t expectedModRevision) {
  co_return reported(
      co_await inner_.compareAndSwap(std::move(key), std::move(value), expectedModRevision));
}

asio::awaitable<Result<int64_t>> NotifyingStore::remove(std::string key) {
  co_return reported(co_await inner_.remove(std::move(key)));
}

asio::awaitable<Result<TxnResult>> NotifyingStore::txn(std::vector<Compare> compares,
                                                       std::vector<Op> ops) {
  auto r = co_await inner_.txn(std::move(compares), std::move(ops));
  if (r && r->succeeded) onCommit_(r->revision);
  co_return r;
}

asio::awaitable<Result<TxnResult>> NotifyingStore::txnApplied(std::vector<Compare> compares,
                                                              std::vector<Op> ops) {
  auto r = co_await inner_.txnApplied(std::move(compares), std::move(ops));
  if (r && r->succeeded) onCommit_(r->revision);
  co_return r;
}

asio::awaitable<Status> NotifyingStore::durable(int64_t revision) {
  co_return co_await inner_.durable(revision);
}

std::unique_ptr<Watch> NotifyingStore::watch(std::string prefix, int64_t fromRevision,
                                             WatchHandler handler) {
  return inner_.watch(std::move(prefix), fromRevision, std::move(handler));
}

bool NotifyingStore::healthy() const { return inner_.healthy(); }

std::string NotifyingStore::name() const { return inner_.name(); }

bool NotifyingStore::soleWriter() const { return inner_.soleWriter(); }

}  // namespace eg::store
