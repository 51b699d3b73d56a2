#include "gateway/gateway.h"

#include <csignal>
#include <functional>
#include <future>
#include <stdexcept>
#include <thread>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_future.hpp>
#include <spdlog/spdlog.h>

#include "access/key_store.h"
#include "config/config_api.h"
#include "config/propagation_clock.h"
#include "dispatch/events_api.h"
#include "metrics/metrics.h"
#include "model/limits.h"
#include "net/http_client.h"
#include "net/http_server.h"
#include "net/io_pool.h"
#include "net/read_now.h"
#include "observe/observer.h"
#include "providers/builtin.h"
#include "providers/provider.h"
#include "queue/open.h"
#include "routing/config_cache.h"
#include "store/embedded_store.h"
#include "store/etcd_store.h"
#include "store/notifying_store.h"

namespace eg::gateway {
namespace asio = boost::asio;

namespace {

constexpr std::chrono::seconds kDrainTimeout{10};
constexpr std::chrono::seconds kCacheStartTimeout{30};

std::optional<net::TlsFiles> tlsFiles(const std::string& cert, const std::string& key,
                                      const std::string& clientCa) {
  if (cert.empty()) return std::nullopt;
  return net::TlsFiles{cert, key, clientCa};
}

std::unique_ptr<store::Store> openStore(const Settings& settings) {
  if (!settings.dev) {
    store::EtcdStoreOptions options;
    options.endpoints = settings.dbHosts;
    options.keyPrefix = settings.dbPrefix;
    if (options.keyPrefix.empty() || options.keyPrefix.back() != '/') options.keyPrefix += '/';
    options.caFile = settings.dbTlsCa;
    options.certFile = settings.dbTlsCert;
    options.keyFile = settings.dbTlsKey;
    auto opened = store::EtcdStore::open(std::move(options));
    if (!opened) throw std::runtime_error("cannot use etcd: " + opened.error().message);
    std::string hosts;
    for (const auto& h : settings.dbHosts) hosts += (hosts.empty() ? "" : ",") + h;
    spdlog::info("Using etcd at {} (key prefix \"{}\").", hosts, settings.dbPrefix);
    return std::move(opened).value();
  }
  auto opened = store::EmbeddedStore::open(settings.embedDataDir);
  if (!opened) {
    throw std::runtime_error("cannot open the embedded store in \"" + settings.embedDataDir +
                             "\": " + opened.error().message);
  }
  spdlog::info("Embedded store opened in \"{}\".", settings.embedDataDir);
  return std::move(opened).value();
}

std::unique_ptr<access::KeyStore> openAccessKeys(const Settings& s) {
  if (s.accessKeys.empty()) {
    spdlog::info("No -access-keys: the Config API is open to anyone who can reach its port.");
    return nullptr;
  }
  auto loaded = access::KeySet::load(s.accessKeys);
  if (!loaded) throw std::runtime_error(loaded.error().message);
  if ((*loaded)->size() == 0) {
    spdlog::warn("Access keys file \"{}\" holds no key: every Config API request but "
                 "GET /v1/status answers 401.", s.accessKeys);
  }
  spdlog::info("Config API access keys: {} key(s) from \"{}\"{}.", (*loaded)->size(), s.accessKeys,
               s.metricsOpen ? "; metrics open (-metrics-open)" : "");
  return std::make_unique<access::KeyStore>(std::move(*loaded));
}

std::unique_ptr<queue::DeliveryQueue> openQueue(const Settings& s) {
  queue::QueueSettings q;
  q.spec = s.queue;
  q.dir = s.queueDir.empty() ? s.embedDataDir + "/queue" : s.queueDir;
  q.maxBytes = s.queueMaxBytes;
  q.workers = static_cast<std::size_t>(s.workers);
  q.backlog = static_cast<std::size_t>(s.workersBacklog);
  q.replicas = s.queueReplicas;
  q.lease = s.queueLease;
  q.tlsCa = s.queueTlsCa;
  q.tlsCert = s.queueTlsCert;
  q.tlsKey = s.queueTlsKey;
  q.creds = s.queueCreds;
  auto made = queue::makeQueue(q);
  if (!made) throw std::runtime_error(made.error().message);
  if (auto started = (*made)->start(); !started) {
    throw std::runtime_error("cannot open the delivery queue: " + started.error().message);
  }
  return std::move(made).value();
}

// Every worker may hold a connection to one function's origin: a pool that keeps fewer
// idle would close and open connections under load, one per call beyond its size.
net::HttpClient::Settings clientSettings(const Settings& s) {
  net::HttpClient::Settings c;
  c.maxIdlePerOrigin = std::max<std::size_t>(c.maxIdlePerOrigin, static_cast<std::size_t>(s.workers));
  return c;
}

}  // namespace

struct Gateway::Impl {
  explicit Impl(Settings s)
      : settings(std::move(s)), pool(settings.ioThreads), client(clientSettings(settings)) {}

  Settings settings;
  // Signals are received here, on the thread of runUntilSignalled.
  asio::io_context signalContext;
  asio::signal_set signals{signalContext};
  std::unique_ptr<access::KeyStore> accessKeys;
  net::IoPool pool;
  std::unique_ptr<store::Store> store;
  std::unique_ptr<queue::DeliveryQueue> queue;
  net::HttpClient client;
  providers::ProviderRegistry providers;
  metrics::Registry metrics;
  // Before the APIs, which report to it and serve its tails.
  std::unique_ptr<observe::Observer> observer;
  // Before the cache, whose snapshot listener uses it: destroyed after the cache stopped.
  std::unique_ptr<config::PropagationClock> propagation;
  std::unique_ptr<routing::ConfigCache> cache;
  // The store as the Config API writes to it: each commit starts the propagation clock.
  std::unique_ptr<store::NotifyingStore> configStore;
  std::unique_ptr<config::ConfigApi> configApi;
  std::unique_ptr<dispatch::EventsApi> eventsApi;
  std::unique_ptr<net::HttpServer> configServer;
  std::unique_ptr<net::HttpServer> eventsServer;
  bool stopped = false;
};

Gateway::Gateway(Settings settings) : impl_(std::make_unique<Impl>(std::move(settings))) {}

Gateway::~Gateway() { shutdown(); }

void Gateway::start() {
  auto& s = impl_->settings;
  // Before anything listens: a SIGHUP right after start-up (a reload script racing the
  // health check) must not end the process. SIGINT and SIGTERM keep their default
  // until runUntilSignalled, so a start-up stuck on the store can still be interrupted.
  impl_->signals.add(SIGHUP);
  impl_->accessKeys = openAccessKeys(s);
  impl_->store = openStore(s);
  providers::registerBuiltinProviders(impl_->providers, impl_->client);
  impl_->pool.start();

  impl_->cache = std::make_unique<routing::ConfigCache>(*impl_->store, impl_->providers);
  // A store that is still coming up (an etcd cluster electing its leader) gets a bounded
  // grace period before start-up fails.
  const auto giveUp = std::chrono::steady_clock::now() + kCacheStartTimeout;
  for (auto backoff = std::chrono::milliseconds(100);; backoff = std::min(backoff * 2, std::chrono::milliseconds(2000))) {
    auto started = asio::co_spawn(impl_->pool.next(), impl_->cache->start(), asio::use_future);
    if (started.wait_until(giveUp) != std::future_status::ready) {
      throw std::runtime_error("timed out reading the configuration from the store");
    }
    auto status = started.get();
    if (status) break;
    if (status.error().kind != ErrorKind::kUnavailable || std::chrono::steady_clock::now() + backoff > giveUp) {
      throw std::runtime_error(status.error().message);
    }
    spdlog::warn("Configuration store unavailable ({}); retrying in {} ms.", status.error().message,
                 backoff.count());
    std::this_thread::sleep_for(backoff);
  }

  impl_->propagation = std::make_unique<config::PropagationClock>(impl_->metrics);
  auto* clock = impl_->propagation.get();
  clock->published(impl_->cache->snapshot()->revision());
  impl_->cache->onSnapshot(
      [clock](const routing::Snapshot& snapshot) { clock->published(snapshot.revision()); });
  impl_->configStore = std::make_unique<store::NotifyingStore>(
      *impl_->store, [clock](int64_t revision) { clock->committed(revision); });

  impl_->observer = std::make_unique<observe::Observer>(impl_->metrics);
  config::ConfigApiSettings apiSettings;
  apiSettings.accessKeys = impl_->accessKeys.get();
  apiSettings.metricsOpen = s.metricsOpen;
  apiSettings.tails = &impl_->observer->tails();
  impl_->configApi = std::make_unique<config::ConfigApi>(*impl_->configStore, *impl_->cache,
                                                         impl_->providers, impl_->metrics,
                                                         apiSettings);
  impl_->queue = openQueue(s);
  dispatch::DispatchSettings dispatchSettings;
  dispatchSettings.workers = static_cast<std::size_t>(s.workers);
  dispatchSettings.authorizerCacheSize = s.authorizerCacheSize;
  dispatchSettings.delivery.retries = s.deliveryRetries;
  dispatchSettings.delivery.backoff = s.deliveryBackoff;
  dispatchSettings.delivery.backoffDelay = s.deliveryBackoffDelay;
  dispatchSettings.delivery.maxBackoff = s.deliveryMaxBackoff;
  dispatchSettings.delivery.maxEventAge = s.deliveryMaxEventAge;
  impl_->eventsApi = std::make_unique<dispatch::EventsApi>(
      *impl_->cache, impl_->pool, impl_->metrics, *impl_->queue, dispatchSettings,
      impl_->observer.get());

  net::ServerSettings configSettings;
  configSettings.port = s.configPort;
  configSettings.bodyLimit = model::kMaxConfigBodyBytes;
  configSettings.readTimeout = s.readTimeout;
  configSettings.idleTimeout = s.idleTimeout;
  configSettings.maxConnections = s.maxConnections;
  configSettings.tls = tlsFiles(s.configTlsCert, s.configTlsKey, s.configTlsClientCa);
  impl_->configServer = std::make_unique<net::HttpServer>(
      impl_->pool, configSettings,
      [api = impl_->configApi.get()](net::Request& r) { return api->handle(r); });

  net::ServerSettings eventsSettings = configSettings;
  eventsSettings.port = s.eventsPort;
  eventsSettings.bodyLimit = s.maxBodySize;
  eventsSettings.tls = tlsFiles(s.eventsTlsCert, s.eventsTlsKey, s.eventsTlsClientCa);
  impl_->eventsServer = std::make_unique<net::HttpServer>(
      impl_->pool, eventsSettings,
      [api = impl_->eventsApi.get()](net::Request& r) { return api->handle(r); });

  impl_->configServer->start();
  impl_->eventsServer->start();
  spdlog::info("Config API listening on port {}{}.", impl_->configServer->port(),
               configSettings.tls ? " (TLS)" : "");
  spdlog::info("Events API listening on port {}{}.", impl_->eventsServer->port(),
               eventsSettings.tls ? " (TLS)" : "");
  if (!net::kReadNowActive) {
    spdlog::warn("This build reads sockets as Asio does (src/net/read_now.h not active): "
                 "one failed receive per read more than the gateway's usual reads.");
  }
  spdlog::info("Event Gateway {} started with {} I/O thread(s), {} workers, backlog {}; "
               "delivery queue: {}.",
               EG_VERSION, s.ioThreads, s.workers, s.workersBacklog, impl_->queue->describe());
}

int Gateway::runUntilSignalled() {
  auto& set = impl_->signals;
  set.add(SIGINT);
  set.add(SIGTERM);
  int received = 0;
  std::function<void(const boost::system::error_code&, int)> onSignal =
      [&](const boost::system::error_code& ec, int signal) {
        if (ec) return;
        if (signal == SIGHUP) {
          spdlog::info("Received SIGHUP, reloading.");
          reload();
          set.async_wait(onSignal);
          return;
        }
        received = signal;
      };
  set.async_wait(onSignal);
  impl_->signalContext.run();
  spdlog::info("Received {}, shutting down.", received == SIGINT ? "SIGINT" : "SIGTERM");
  shutdown();
  return 0;
}

void Gateway::reload() {
  for (auto* server : {impl_->configServer.get(), impl_->eventsServer.get()}) {
    if (server == nullptr) continue;
    if (auto reloaded = server->reloadTls(); !reloaded) {
      spdlog::error("TLS reload failed, the previous certificates stay in use: {}",
                    reloaded.error().message);
    }
  }
  if (!impl_->accessKeys) {
    spdlog::info("Nothing to reload beyond TLS files: no -access-keys file.");
    return;
  }
  const std::string& path = impl_->settings.accessKeys;
  auto loaded = access::KeySet::load(path);
  if (!loaded) {
    spdlog::error("Access keys not reloaded; the keys in force stay: {}", loaded.error().message);
    return;
  }
  const std::size_t count = (*loaded)->size();
  impl_->accessKeys->replace(std::move(*loaded));
  spdlog::info("Access keys reloaded: {} key(s) from \"{}\".", count, path);
}

void Gateway::shutdown() {
  if (impl_->stopped) return;
  impl_->stopped = true;
  // While deliveries drain the listeners stay open, so that a client (or a load
  // balancer) gets an answer, events a 503, instead of a refused connection; every
  // connection closes after its next answer, as Envoy drains.
  if (impl_->eventsApi) impl_->eventsApi->startDraining();
  // Tails never end by themselves: they end here, so that their connections can close.
  if (impl_->observer) impl_->observer->tails().close();
  if (impl_->eventsServer) impl_->eventsServer->drain();
  if (impl_->configServer) impl_->configServer->drain();
  if (impl_->eventsApi && !impl_->eventsApi->waitDrained(kDrainTimeout)) {
    if (impl_->queue->durable()) {
      spdlog::warn("Shutdown: deliveries still in flight after {} s are made again at the next "
                   "start.", kDrainTimeout.count());
    } else {
      spdlog::warn("Shutdown: queued deliveries did not finish within {} s; they are lost.",
                   kDrainTimeout.count());
    }
  } else if (impl_->queue && impl_->queue->durable() && impl_->queue->stats().deliveries > 0) {
    spdlog::info("Shutdown: {} delivery(ies) stay queued for the next start.",
                 impl_->queue->stats().deliveries);
  }
  if (impl_->eventsServer) impl_->eventsServer->stop();
  if (impl_->configServer) impl_->configServer->stop();
  // Requests in flight (sync calls included) finish before the I/O threads stop.
  const auto deadline = std::chrono::steady_clock::now() + kDrainTimeout;
  auto live = [this] {
    return (impl_->eventsServer ? impl_->eventsServer->liveConnections() : 0) +
           (impl_->configServer ? impl_->configServer->liveConnections() : 0);
  };
  while (live() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (impl_->cache) impl_->cache->stop();
  impl_->pool.stop();
  spdlog::info("Event Gateway stopped.");
}

}  // namespace eg::gateway
