#include "store/etcd_store.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <exception>
#include <iterator>
#include <utility>

#include "net/http_stream.h"
#include "store/etcd_codec.h"

namespace eg::store {

namespace ssl = asio::ssl;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

namespace {

constexpr const char* kPaths[] = {"/v3/kv/range", "/v3/kv/put",        "/v3/kv/deleterange",
                                  "/v3/kv/txn",   "/v3/kv/compaction", "/v3/watch"};
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// Errors that the HTTP layers give before a request leaves: another endpoint may take it
// without any risk of applying it twice.
bool failedBeforeSending(const Error& error) {
  for (std::string_view prefix : {"cannot connect to", "cannot resolve", "connecting to",
                                  "resolving", "TLS handshake", "cannot set TLS"}) {
    if (error.message.starts_with(prefix)) return true;
  }
  return false;
}

milliseconds remainingUntil(Clock::time_point deadline) {
  return std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
}

Status validKey(const std::string& key) {
  if (key.empty()) return Error::invalid("empty key");
  return {};
}

std::string jsonText(const json::object& o) { return json::serialize(o); }

}  // namespace

namespace detail {

struct EtcdWatchState {
  // Held while the handler runs, so that cancelling from another thread waits for it.
  std::mutex mutex;
  std::atomic<bool> cancelled{false};
  Store::WatchHandler handler;
  EtcdStore* store = nullptr;  // guarded by mutex; null once the store is gone

  // Store thread only.
  std::string key;
  std::string rangeEnd;
  int64_t next = 0;  // the revision to resume from; 0: from now
  net::HttpStream* stream = nullptr;
  asio::steady_timer* timer = nullptr;

  void abortIo() {
    if (stream != nullptr) stream->close();
    if (timer != nullptr) timer->cancel();
  }
};

}  // namespace detail

class EtcdStore::WatchImpl final : public Watch {
 public:
  WatchImpl(std::shared_ptr<detail::EtcdWatchState> state, std::thread::id storeThread)
      : state_(std::move(state)), storeThread_(storeThread) {}

  ~WatchImpl() override {
    auto& s = *state_;
    auto abort = [state = state_] { state->abortIo(); };
    if (std::this_thread::get_id() == storeThread_) {
      // Inside a handler (which holds the mutex) or the store's own code: nothing runs
      // concurrently on this thread, and the store is alive while its thread runs.
      s.cancelled.store(true);
      if (s.store != nullptr) asio::post(s.store->ioc_, abort);
      return;
    }
    std::lock_guard lock(s.mutex);
    s.cancelled.store(true);
    if (s.store != nullptr) asio::post(s.store->ioc_, abort);
  }

 private:
  std::shared_ptr<detail::EtcdWatchState> state_;
  std::thread::id storeThread_;
};

Result<std::unique_ptr<EtcdStore>> EtcdStore::open(EtcdStoreOptions options) {
  if (options.endpoints.empty()) return Error::invalid("no etcd endpoints");
  if (options.requestTimeout.count() <= 0)
    return Error::invalid("request timeout must be positive");
  if (options.dialTimeout.count() <= 0) options.dialTimeout = options.requestTimeout;
  if (options.reconnectMin.count() <= 0) options.reconnectMin = milliseconds(1);
  options.reconnectMax = std::max(options.reconnectMax, options.reconnectMin);
  if (options.watchIdleTimeout.count() <= 0)
    return Error::invalid("watch idle timeout must be positive");
  if (options.listPageKeys <= 0 || options.listPageBytes == 0)
    return Error::invalid("list page size must be positive");
  if (options.certFile.empty() != options.keyFile.empty()) {
    return Error::invalid("an etcd client certificate needs both a certificate and a key file");
  }
  const bool tlsFiles = !options.caFile.empty() || !options.certFile.empty();

  std::vector<Endpoint> endpoints;
  std::optional<bool> tls;
  for (const auto& text : options.endpoints) {
    std::string base = text;
    if (base.find("://") == std::string::npos) base = (tlsFiles ? "https://" : "http://") + base;
    auto url = net::Url::parse(base);
    if (!url) return Error::invalid("etcd endpoint '" + text + "': " + url.error().message);
    if (url->target != "/")
      return Error::invalid("etcd endpoint '" + text + "' must not have a path");
    if (tls && *tls != url->tls) return Error::invalid("etcd endpoints mix http and https");
    tls = url->tls;
    Endpoint endpoint;
    endpoint.name = url->origin();
    for (const char* path : kPaths) {
      net::Url u = *url;
      u.target = path;
      endpoint.urls.push_back(std::move(u));
    }
    endpoints.push_back(std::move(endpoint));
  }
  if (tlsFiles && !*tls) return Error::invalid("etcd TLS files given for http endpoints");

  std::unique_ptr<ssl::context> context;
  if (*tls) {
    context = std::make_unique<ssl::context>(ssl::context::tls_client);
    context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                         ssl::context::no_sslv3);
    boost::system::error_code ec;
    if (options.caFile.empty()) {
      context->set_default_verify_paths(ec);
    } else {
      context->load_verify_file(options.caFile, ec);
    }
    if (ec) return Error::invalid("etcd CA file '" + options.caFile + "': " + ec.message());
    context->set_verify_mode(ssl::verify_peer);
    if (!options.certFile.empty()) {
      context->use_certificate_chain_file(options.certFile, ec);
      if (ec) return Error::invalid("etcd certificate '" + options.certFile + "': " + ec.message());
      context->use_private_key_file(options.keyFile, ssl::context::pem, ec);
      if (ec) return Error::invalid("etcd key '" + options.keyFile + "': " + ec.message());
    }
  }
  return std::unique_ptr<EtcdStore>(
      new EtcdStore(std::move(options), std::move(endpoints), std::move(context)));
}

EtcdStore::EtcdStore(EtcdStoreOptions options, std::vector<Endpoint> endpoints,
                     std::unique_ptr<ssl::context> tls)
    : options_(std::move(options)),
      endpoints_(std::move(endpoints)),
      tls_(std::move(tls)),
      idle_(endpoints_.size()),
      work_(ioc_.get_executor()) {
  thread_ = std::thread([this] { ioc_.run(); });
  threadId_ = thread_.get_id();
}

EtcdStore::~EtcdStore() {
  {
    std::lock_guard lock(watchesMutex_);
    for (auto& weak : watches_) {
      auto state = weak.lock();
      if (!state) continue;
      std::lock_guard stateLock(state->mutex);  // waits for a running handler
      state->cancelled.store(true);
      state->store = nullptr;
      asio::post(ioc_, [state] { state->abortIo(); });
    }
    watches_.clear();
  }
  // Every coroutine ends by itself once its I/O is aborted (or its deadline passes).
  asio::post(ioc_, [this] { idle_.clear(); });
  work_.reset();
  thread_.join();
}

std::string EtcdStore::currentEndpoint() const { return endpoints_[preferred_.load()].name; }

// ---- requests --------------------------------------------------------------------------

// Every request runs on the store's own thread, whatever thread the caller runs on:
// the TLS connections live there, and HttpClient's pools and deadlines belong to one
// thread (a caller's io_context may be run by several).
asio::awaitable<Result<EtcdStore::Response>> EtcdStore::attempt(size_t endpoint, Api api,
                                                                const std::string& body,
                                                                milliseconds connectTimeout,
                                                                milliseconds responseTimeout,
                                                                bool& notSent) {
  auto flag = std::make_shared<bool>(false);
  auto out = std::make_shared<std::optional<Result<Response>>>();
  co_await asio::co_spawn(
      ioc_, attemptHere(endpoint, api, body, connectTimeout, responseTimeout, flag, out),
      asio::use_awaitable);
  notSent = *flag;
  co_return std::move(**out);
}

asio::awaitable<void> EtcdStore::attemptHere(size_t endpoint, Api api, std::string body,
                                             milliseconds connectTimeout,
                                             milliseconds responseTimeout,
                                             std::shared_ptr<bool> notSent,
                                             std::shared_ptr<std::optional<Result<Response>>> out) {
  if (tls_) {
    out->emplace(co_await exchangeTls(endpoint, api, std::move(body), connectTimeout,
                                      responseTimeout, std::move(notSent)));
    co_return;
  }
  net::ClientRequest req;
  req.method = net::http::verb::post;
  req.url = &endpoints_[endpoint].urls[api];
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  req.connectTimeout = connectTimeout;
  req.responseTimeout = responseTimeout;
  auto r = co_await http_.send(std::move(req));
  if (!r) {
    *notSent = failedBeforeSending(r.error());
    out->emplace(std::move(r).error());
    co_return;
  }
  out->emplace(Response{r->status, std::move(r->body)});
}

asio::awaitable<Result<EtcdStore::Response>> EtcdStore::exchangeTls(size_t endpoint, Api api,
                                                                    std::string body,
                                                                    milliseconds connectTimeout,
                                                                    milliseconds responseTimeout,
                                                                    std::shared_ptr<bool> notSent) {
  const net::Url& url = endpoints_[endpoint].urls[api];
  const auto deadline = Clock::now() + responseTimeout;
  auto& idle = idle_[endpoint];
  for (int tries = 0; tries < 2; ++tries) {
    std::unique_ptr<net::HttpStream> conn;
    const bool reused = !idle.empty();
    if (reused) {
      conn = std::move(idle.back());
      idle.pop_back();
    } else {
      auto opened = co_await net::HttpStream::open(url, tls_.get(), connectTimeout);
      if (!opened) {
        *notSent = true;
        co_return std::move(opened).error();
      }
      conn = std::move(opened).value();
    }
    auto status = co_await conn->start(net::http::verb::post, url.target, body, "application/json",
                                       responseTimeout);
    // A pooled connection the server closed while idle (so were the older ones): send
    // again on a fresh one.
    if (!status && reused && status.error().kind == ErrorKind::kUnavailable) {
      idle.clear();
      continue;
    }
    if (!status) co_return std::move(status).error();
    auto left = std::max(remainingUntil(deadline), milliseconds(1));
    auto text = co_await conn->readBody(left);
    if (!text) co_return std::move(text).error();
    if (conn->reusable() && idle.size() < 16) idle.push_back(std::move(conn));
    co_return Response{*status, std::move(*text)};
  }
  co_return Error::unavailable("no response from " + url.origin());
}

asio::awaitable<Result<json::object>> EtcdStore::call(Api api, std::string body, bool idempotent) {
  const auto deadline = Clock::now() + options_.requestTimeout;
  const size_t n = endpoints_.size();
  const size_t first = preferred_.load(std::memory_order_relaxed);
  std::string failures;
  for (size_t i = 0; i < n; ++i) {
    const size_t endpoint = (first + i) % n;
    auto left = remainingUntil(deadline);
    if (left.count() <= 0) {
      failures += (failures.empty() ? "" : "; ") + std::string("request timeout reached");
      break;
    }
    bool notSent = false;
    auto r =
        co_await attempt(endpoint, api, body, std::min(left, options_.dialTimeout), left, notSent);
    if (!r) {
      failures += (failures.empty() ? "" : "; ") + r.error().message;
      if (idempotent || notSent) continue;
      break;
    }
    if (r->status == 200) {
      auto parsed = parseJson(r->body);
      if (!parsed || !parsed->is_object()) {
        co_return Error::internal("etcd " + endpoints_[endpoint].name +
                                  " sent a malformed response to " + kPaths[api]);
      }
      preferred_.store(endpoint, std::memory_order_relaxed);
      healthy_.store(true, std::memory_order_release);
      co_return std::move(parsed->as_object());
    }
    Error error = etcd::errorFromResponse(r->status, r->body);
    if (error.kind == ErrorKind::kUnavailable) {
      // The member is up but cannot serve (no leader, timed out inside the cluster).
      failures += (failures.empty() ? "" : "; ") + endpoints_[endpoint].name + ": " + error.message;
      if (idempotent) continue;
      break;
    }
    preferred_.store(endpoint, std::memory_order_relaxed);
    healthy_.store(true, std::memory_order_release);
    co_return error;
  }
  healthy_.store(false, std::memory_order_release);
  co_return Error::unavailable("etcd unavailable: " + failures);
}

asio::awaitable<Result<RangeResult>> EtcdStore::range(std::string key, std::string rangeEnd) {
  auto page = co_await rangePage(std::move(key), rangeEnd, 0, 0);
  if (!page) co_return std::move(page).error();
  co_return std::move(page->range);
}

asio::awaitable<Result<EtcdStore::Page>> EtcdStore::rangePage(std::string key,
                                                              const std::string& rangeEnd,
                                                              int64_t limit, int64_t revision) {
  json::object req;
  req["key"] = etcd::base64Encode(key);
  if (!rangeEnd.empty()) req["range_end"] = etcd::base64Encode(rangeEnd);
  if (limit > 0) req["limit"] = std::to_string(limit);
  if (revision > 0) req["revision"] = std::to_string(revision);
  rangeRequests_.fetch_add(1, std::memory_order_relaxed);
  auto r = co_await call(kRange, jsonText(req), true);
  if (!r) co_return std::move(r).error();
  auto range = etcd::parseRangeResponse(*r, options_.keyPrefix);
  if (!range) co_return std::move(range).error();
  auto more = etcd::rangeHasMore(*r);
  if (!more) co_return std::move(more).error();
  co_return Page{std::move(*range), *more};
}

asio::awaitable<Result<std::optional<KeyValue>>> EtcdStore::get(std::string key) {
  if (auto valid = validKey(key); !valid) co_return std::move(valid).error();
  auto r = co_await range(etcdKey(key), {});
  if (!r) co_return std::move(r).error();
  if (r->kvs.empty()) co_return std::optional<KeyValue>();
  co_return std::optional<KeyValue>(std::move(r->kvs.front()));
}

asio::awaitable<Result<RangeResult>> EtcdStore::list(std::string prefix) {
  std::string key = etcdKey(prefix);
  // An empty key with range end "\0" is etcd's "every key".
  if (key.empty()) key.assign(1, '\0');
  const std::string end = etcd::prefixEnd(etcdKey(prefix));
  // A compaction between two pages takes the first page's revision away: read again at
  // a newer one. Compactions that often are a misconfiguration; give up after a few.
  constexpr int kAttempts = 3;
  for (int attempt = 1;; ++attempt) {
    auto r = co_await listOnce(key, end);
    if (r || r.error().kind != ErrorKind::kCompacted || attempt == kAttempts) co_return r;
    spdlog::info("etcd compacted while the configuration was read ({}); reading it again",
                 r.error().message);
  }
}

asio::awaitable<Result<RangeResult>> EtcdStore::listOnce(const std::string& key,
                                                         const std::string& rangeEnd) {
  // A value may be ~1 MiB (etcd's default request bound): the first page is small, and
  // each next one at most 8 times the last, sized by the bytes per key seen last.
  constexpr int64_t kFirstPageKeys = 16;
  constexpr int64_t kGrowth = 8;
  // JSON per key beyond its key and value, base64'd: revisions, version, field names.
  constexpr std::size_t kKeyOverhead = 96;
  RangeResult out;
  std::string from = key;
  int64_t limit = std::min(kFirstPageKeys, options_.listPageKeys);
  for (;;) {
    auto page = co_await rangePage(from, rangeEnd, limit, out.revision);
    if (!page) co_return std::move(page).error();
    // Later pages read at the first page's revision; their headers say the current one.
    if (out.revision == 0) out.revision = page->range.revision;
    auto& kvs = page->range.kvs;
    if (!page->more) {
      if (out.kvs.empty()) co_return RangeResult{std::move(kvs), out.revision};
      out.kvs.insert(out.kvs.end(), std::make_move_iterator(kvs.begin()),
                     std::make_move_iterator(kvs.end()));
      co_return out;
    }
    if (kvs.empty()) co_return Error::internal("etcd said more keys follow but sent none");
    std::size_t bytes = 0;
    for (const auto& kv : kvs) {
      bytes += (options_.keyPrefix.size() + kv.key.size() + kv.value.size()) * 4 / 3 + kKeyOverhead;
    }
    const auto perKey = std::max<std::size_t>(bytes / kvs.size(), 1);
    limit = std::clamp<int64_t>(static_cast<int64_t>(options_.listPageBytes / perKey), 1,
                                std::min(options_.listPageKeys, limit * kGrowth));
    // The next page starts just after the last key read.
    from = etcdKey(kvs.back().key);
    from.push_back('\0');
    out.kvs.insert(out.kvs.end(), std::make_move_iterator(kvs.begin()),
                   std::make_move_iterator(kvs.end()));
  }
}

asio::awaitable<Result<int64_t>> EtcdStore::put(std::string key, std::string value) {
  if (auto valid = validKey(key); !valid) co_return std::move(valid).error();
  json::object req;
  req["key"] = etcd::base64Encode(etcdKey(key));
  req["value"] = etcd::base64Encode(value);
  auto r = co_await call(kPut, jsonText(req), false);
  if (!r) co_return std::move(r).error();
  co_return etcd::headerRevision(*r);
}

asio::awaitable<Result<int64_t>> EtcdStore::create(std::string key, std::string value) {
  if (auto valid = validKey(key); !valid) co_return std::move(valid).error();
  // (Named vectors: GCC 12 miscompiles braced lists in a co_await's arguments.)
  std::vector<Compare> compares{Compare{key, 0}};
  std::vector<Op> ops{Op{Op::Type::kPut, key, std::move(value)}};
  auto r = co_await txn(std::move(compares), std::move(ops));
  if (!r) co_return std::move(r).error();
  if (!r->succeeded) co_return Error::alreadyExists("key '" + key + "' already exists");
  co_return r->revision;
}

asio::awaitable<Result<int64_t>> EtcdStore::compareAndSwap(std::string key, std::string value,
                                                           int64_t expectedModRevision) {
  if (auto valid = validKey(key); !valid) co_return std::move(valid).error();
  std::vector<Compare> compares{Compare{key, expectedModRevision}};
  std::vector<Op> ops{Op{Op::Type::kPut, key, std::move(value)}};
  auto r = co_await txn(std::move(compares), std::move(ops));
  if (!r) co_return std::move(r).error();
  if (!r->succeeded) {
    co_return Error::conflict("key '" + key + "' is not at revision " +
                              std::to_string(expectedModRevision));
  }
  co_return r->revision;
}

asio::awaitable<Result<int64_t>> EtcdStore::remove(std::string key) {
  if (auto valid = validKey(key); !valid) co_return std::move(valid).error();
  json::object req;
  req["key"] = etcd::base64Encode(etcdKey(key));
  auto r = co_await call(kDeleteRange, jsonText(req), false);
  if (!r) co_return std::move(r).error();
  if (etcd::int64Field(*r, "deleted") == 0)
    co_return Error::notFound("key '" + key + "' not found");
  co_return etcd::headerRevision(*r);
}

asio::awaitable<Result<TxnResult>> EtcdStore::txn(std::vector<Compare> compares,
                                                  std::vector<Op> ops) {
  json::array compareJson;
  for (const auto& c : compares) {
    if (auto valid = validKey(c.key); !valid) co_return std::move(valid).error();
    compareJson.push_back(c.prefix ? etcd::prefixCompareJson(etcdKey(c.key), c.modRevision)
                                   : etcd::compareJson(etcdKey(c.key), c.modRevision));
  }
  json::array success;
  for (const auto& op : ops) {
    if (auto valid = validKey(op.key); !valid) co_return std::move(valid).error();
    success.push_back(op.type == Op::Type::kPut ? etcd::putJson(etcdKey(op.key), op.value)
                                                : etcd::deleteJson(etcdKey(op.key)));
  }
  json::object req;
  req["compare"] = std::move(compareJson);
  req["success"] = std::move(success);
  auto r = co_await call(kTxn, jsonText(req), false);
  if (!r) co_return std::move(r).error();
  co_return etcd::parseTxnResponse(*r);
}

asio::awaitable<Status> EtcdStore::compact(int64_t revision) {
  json::object req;
  req["revision"] = std::to_string(revision);
  req["physical"] = true;
  auto r = co_await call(kCompaction, jsonText(req), true);
  if (!r) co_return std::move(r).error();
  co_return Status{};
}

// ---- watch -----------------------------------------------------------------------------

std::unique_ptr<Watch> EtcdStore::watch(std::string prefix, int64_t fromRevision,
                                        WatchHandler handler) {
  auto state = std::make_shared<detail::EtcdWatchState>();
  state->handler = std::move(handler);
  state->store = this;
  state->key = etcdKey(prefix);
  state->rangeEnd = etcd::prefixEnd(state->key);
  if (state->key.empty()) state->key.assign(1, '\0');
  state->next = std::max<int64_t>(fromRevision, 0);
  {
    std::lock_guard lock(watchesMutex_);
    std::erase_if(watches_, [](const auto& w) { return w.expired(); });
    watches_.push_back(state);
  }
  asio::co_spawn(ioc_, runWatch(state), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      spdlog::error("etcd watch failed: {}", ex.what());
    }
  });
  return std::make_unique<WatchImpl>(std::move(state), threadId_);
}

void EtcdStore::deliver(detail::EtcdWatchState& state, Result<WatchBatch> result) {
  std::lock_guard lock(state.mutex);
  if (state.cancelled.load()) return;
  state.handler(std::move(result));
}

asio::awaitable<void> EtcdStore::runWatch(std::shared_ptr<detail::EtcdWatchState> statePtr) {
  auto& state = *statePtr;
  asio::steady_timer timer(ioc_);
  state.timer = &timer;
  size_t endpoint = preferred_.load(std::memory_order_relaxed);
  auto backoff = options_.reconnectMin;
  bool outage = false;
  while (!state.cancelled.load()) {
    Error failure;
    bool established = false;
    const bool ended = co_await streamOnce(state, endpoint, failure, established);
    if (ended || state.cancelled.load()) break;
    if (established) {
      outage = false;
      backoff = options_.reconnectMin;
    }
    // A stream that was merely idle too long is replaced without bothering anyone.
    const bool quiet = established && failure.kind == ErrorKind::kTimeout;
    if (!quiet && !outage) {
      outage = true;
      healthy_.store(false, std::memory_order_release);
      deliver(state,
              Error::unavailable("etcd watch interrupted (" + failure.message + "); reconnecting"));
      if (state.cancelled.load()) break;
    }
    endpoint = (endpoint + 1) % endpoints_.size();
    if (established) continue;  // the cluster was fine a moment ago: retry at once
    timer.expires_after(backoff);
    co_await timer.async_wait(kTuple);
    backoff = std::min(backoff * 2, options_.reconnectMax);
  }
  state.timer = nullptr;
}

asio::awaitable<bool> EtcdStore::streamOnce(detail::EtcdWatchState& state, size_t endpoint,
                                            Error& failure, bool& established) {
  const net::Url& url = endpoints_[endpoint].urls[kWatch];
  auto opened = co_await net::HttpStream::open(url, tls_.get(), options_.dialTimeout);
  if (!opened) {
    failure = std::move(opened).error();
    co_return false;
  }
  std::unique_ptr<net::HttpStream> stream = std::move(opened).value();
  state.stream = stream.get();
  struct Detach {
    detail::EtcdWatchState& s;
    ~Detach() { s.stream = nullptr; }
  } detach{state};
  if (state.cancelled.load()) co_return true;

  json::object create;
  create["key"] = etcd::base64Encode(state.key);
  create["range_end"] = etcd::base64Encode(state.rangeEnd);
  if (state.next > 0) create["start_revision"] = std::to_string(state.next);
  create["progress_notify"] = true;
  json::object req;
  req["create_request"] = std::move(create);
  auto status = co_await stream->start(net::http::verb::post, url.target, jsonText(req),
                                       "application/json", options_.requestTimeout);
  if (!status) {
    failure = std::move(status).error();
    co_return false;
  }
  if (*status != 200) {
    auto body = co_await stream->readBody(options_.requestTimeout, 64 * 1024);
    failure = etcd::errorFromResponse(*status, body ? *body : std::string());
    co_return false;
  }

  std::string pending;
  for (;;) {
    auto chunk = co_await stream->readSome(options_.watchIdleTimeout);
    if (state.cancelled.load()) co_return true;
    if (!chunk) {
      failure = std::move(chunk).error();
      co_return false;
    }
    if (!*chunk) {
      failure = Error::unavailable("etcd " + endpoints_[endpoint].name + " ended the watch stream");
      co_return false;
    }
    pending += **chunk;
    size_t start = 0;
    for (size_t eol; (eol = pending.find('\n', start)) != std::string::npos; start = eol + 1) {
      std::string_view line(pending.data() + start, eol - start);
      if (line.find_first_not_of(" \r\t") == std::string_view::npos) continue;
      auto msg = etcd::parseWatchLine(line, options_.keyPrefix);
      if (!msg) {
        failure = std::move(msg).error();
        co_return false;
      }
      if (msg->canceled) {
        if (msg->compactRevision > 0 || msg->cancelReason.find("compacted") != std::string::npos) {
          deliver(state, Error::compacted("revision " + std::to_string(state.next) +
                                          " has been compacted (oldest kept: " +
                                          std::to_string(msg->compactRevision) + ")"));
          co_return true;
        }
        failure = Error::unavailable("etcd cancelled the watch: " + msg->cancelReason);
        co_return false;
      }
      if (msg->created) {
        established = true;
        healthy_.store(true, std::memory_order_release);
        preferred_.store(endpoint, std::memory_order_relaxed);
        // From now: every later change has a higher revision than this header's.
        if (state.next <= 0) state.next = msg->headerRevision + 1;
        continue;
      }
      if (msg->events.empty()) {
        // A progress notification: nothing of ours up to this revision remains unsent.
        if (msg->headerRevision >= state.next) state.next = msg->headerRevision + 1;
        continue;
      }
      WatchBatch batch;
      batch.events = std::move(msg->events);
      // A replay after reconnecting may repeat what was delivered before the drop.
      std::erase_if(batch.events,
                    [&](const WatchEvent& e) { return e.kv.modRevision < state.next; });
      if (batch.events.empty()) continue;
      batch.revision = batch.events.back().kv.modRevision;
      state.next = batch.revision + 1;
      deliver(state, std::move(batch));
      if (state.cancelled.load()) co_return true;
    }
    pending.erase(0, start);
  }
}

}  // namespace eg::store
