#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/json.h"
#include "net/http_client.h"
#include "store/store.h"

namespace eg::net {
class HttpStream;
}

namespace eg::store {

struct EtcdStoreOptions {
  // "host:port" or "http(s)://host:port". Without a scheme: https when any TLS file is
  // given, http otherwise. All endpoints use the same scheme.
  std::vector<std::string> endpoints{"127.0.0.1:2379"};
  // Every key is stored under this prefix; the Store's keys are relative to it, so
  // several gateway clusters can share one etcd. Used byte for byte ("/eg/" + "k" = "/eg/k").
  std::string keyPrefix = "/eventgateway/";
  // The longest any call takes, failover included; then kUnavailable.
  std::chrono::milliseconds requestTimeout{2000};
  // Connecting to one endpoint; a dead one is skipped after this.
  std::chrono::milliseconds dialTimeout{1000};
  // TLS (PEM files): the CA that signed etcd's certificate (system CAs when empty), and a
  // client certificate and key when etcd requires one.
  std::string caFile;
  std::string certFile;
  std::string keyFile;
  // Watch reconnection backoff after a failed attempt: doubles from min to max.
  std::chrono::milliseconds reconnectMin{50};
  std::chrono::milliseconds reconnectMax{2000};
  // A watch stream silent this long is re-established (quietly when that works): a peer
  // that vanished without closing the connection is noticed within this bound.
  std::chrono::milliseconds watchIdleTimeout{60'000};
  // list() reads in pages, each its own range request (so each within requestTimeout
  // and far below the HTTP client's 64 MiB response bound), all at the revision of the
  // first page: one consistent view however many keys. A page asks for at most
  // listPageKeys keys, and for fewer when the keys read so far say it would exceed
  // about listPageBytes of JSON; the first asks for 16 (a value may be ~1 MiB).
  // Fewer, larger pages cost etcd less (3.4 counts the rest of the range for each).
  int64_t listPageKeys = 25'000;
  std::size_t listPageBytes = 8 << 20;
};

namespace detail {
struct EtcdWatchState;
}

// The Store on an etcd v3 cluster through its HTTP/JSON gateway (etcd 3.4 paths /v3/...).
// Requests run on the caller's executor over pooled keep-alive connections (over TLS on
// the store's own thread, which owns those connections); a request fails over to the
// next endpoint when one cannot be reached, and sticks to the last endpoint that answered.
// A write is retried on another endpoint only when it certainly was not sent, so that
// "create" never reports a conflict with itself.
// Watches run on one thread owned by the store; their handlers are called there.
// The destructor cancels every watch and joins that thread; it must not run on the
// store's thread (inside a watch handler).
class EtcdStore final : public Store {
 public:
  // Validates the options and loads the TLS files; does not contact etcd.
  static Result<std::unique_ptr<EtcdStore>> open(EtcdStoreOptions options);
  ~EtcdStore() override;
  EtcdStore(const EtcdStore&) = delete;
  EtcdStore& operator=(const EtcdStore&) = delete;

  asio::awaitable<Result<std::optional<KeyValue>>> get(std::string key) override;
  asio::awaitable<Result<RangeResult>> list(std::string prefix) override;
  asio::awaitable<Result<int64_t>> put(std::string key, std::string value) override;
  asio::awaitable<Result<int64_t>> create(std::string key, std::string value) override;
  asio::awaitable<Result<int64_t>> compareAndSwap(std::string key, std::string value,
                                                  int64_t expectedModRevision) override;
  asio::awaitable<Result<int64_t>> remove(std::string key) override;
  // kInvalid when two ops name the same key (etcd refuses it).
  asio::awaitable<Result<TxnResult>> txn(std::vector<Compare> compares,
                                         std::vector<Op> ops) override;
  // fromRevision <= 0: only changes after the current revision.
  std::unique_ptr<Watch> watch(std::string prefix, int64_t fromRevision,
                               WatchHandler handler) override;
  bool healthy() const override { return healthy_.load(std::memory_order_acquire); }
  std::string name() const override { return "etcd"; }
  bool soleWriter() const override { return false; }

  // Drops etcd's history before `revision` (for the whole cluster, not only the prefix).
  asio::awaitable<Status> compact(int64_t revision);

  // The endpoint requests go to first: the last one that answered.
  std::string currentEndpoint() const;

  // Range requests answered so far (a get is one, a list one per page); for tests.
  uint64_t rangeRequests() const { return rangeRequests_.load(std::memory_order_relaxed); }

 private:
  enum Api { kRange, kPut, kDeleteRange, kTxn, kCompaction, kWatch, kApiCount };
  struct Endpoint {
    std::string name;
    std::vector<net::Url> urls;  // by Api
  };
  struct Response {
    unsigned status = 0;
    std::string body;
  };
  friend struct detail::EtcdWatchState;
  class WatchImpl;

  EtcdStore(EtcdStoreOptions options, std::vector<Endpoint> endpoints,
            std::unique_ptr<asio::ssl::context> tls);

  // One request with failover; the parsed body of a 200 answer.
  asio::awaitable<Result<json::object>> call(Api api, std::string body, bool idempotent);
  asio::awaitable<Result<Response>> attempt(size_t endpoint, Api api, const std::string& body,
                                            std::chrono::milliseconds connectTimeout,
                                            std::chrono::milliseconds responseTimeout,
                                            bool& notSent);
  // Store thread only (the TLS connections and the client's pools live there). The
  // result travels through an optional: co_spawn wants a default-constructible value.
  asio::awaitable<void> attemptHere(size_t endpoint, Api api, std::string body,
                                   std::chrono::milliseconds connectTimeout,
                                   std::chrono::milliseconds responseTimeout,
                                   std::shared_ptr<bool> notSent,
                                   std::shared_ptr<std::optional<Result<Response>>> out);
  asio::awaitable<Result<Response>> exchangeTls(size_t endpoint, Api api, std::string body,
                                                std::chrono::milliseconds connectTimeout,
                                                std::chrono::milliseconds responseTimeout,
                                                std::shared_ptr<bool> notSent);
  asio::awaitable<Result<RangeResult>> range(std::string key, std::string rangeEnd);
  struct Page {
    RangeResult range;
    bool more = false;
  };
  // At most `limit` keys (0: all) from `key` to `rangeEnd`, at `revision` (0: the current one).
  asio::awaitable<Result<Page>> rangePage(std::string key, const std::string& rangeEnd,
                                          int64_t limit, int64_t revision);
  // One list at one revision; kCompacted when that revision went while paging.
  asio::awaitable<Result<RangeResult>> listOnce(const std::string& key,
                                                const std::string& rangeEnd);
  std::string etcdKey(const std::string& key) const { return options_.keyPrefix + key; }

  asio::awaitable<void> runWatch(std::shared_ptr<detail::EtcdWatchState> state);
  // One watch connection; true when the watch has ended for good.
  asio::awaitable<bool> streamOnce(detail::EtcdWatchState& state, size_t endpoint, Error& failure,
                                   bool& established);
  void deliver(detail::EtcdWatchState& state, Result<WatchBatch> result);

  EtcdStoreOptions options_;
  std::vector<Endpoint> endpoints_;
  std::unique_ptr<asio::ssl::context> tls_;
  net::HttpClient http_;
  std::atomic<size_t> preferred_{0};
  std::atomic<bool> healthy_{true};
  std::atomic<uint64_t> rangeRequests_{0};

  std::mutex watchesMutex_;
  std::vector<std::weak_ptr<detail::EtcdWatchState>> watches_;

  asio::io_context ioc_;
  // Idle TLS connections per endpoint; store thread only.
  std::vector<std::vector<std::unique_ptr<net::HttpStream>>> idle_;
  asio::executor_work_guard<asio::io_context::executor_type> work_;
  std::thread thread_;
  std::thread::id threadId_;
};

}  // namespace eg::store
