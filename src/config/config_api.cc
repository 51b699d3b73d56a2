#include "config/config_api.h"

#include "config/access_guard.h"
#include "config/api_router.h"
#include "config/service.h"

namespace eg::config {
namespace {

// The route index of the configuration cache, as the service sees it.
class CacheRouteIndex final : public SyncRouteIndex {
 public:
  explicit CacheRouteIndex(routing::ConfigCache& cache) : cache_(cache) {}

  routing::ConfigCache::SyncCheck checkSyncRoute(const model::Subscription& candidate) const override {
    return cache_.checkSyncRoute(candidate);
  }
  asio::awaitable<bool> waitForRevision(int64_t revision,
                                        std::chrono::milliseconds timeout) override {
    co_return co_await cache_.waitForRevision(revision, timeout);
  }

 private:
  routing::ConfigCache& cache_;
};

}  // namespace

struct ConfigApi::Impl {
  Impl(store::Store& store, routing::ConfigCache& cache,
       const providers::ProviderRegistry& providers, metrics::Registry& metrics,
       const ConfigApiSettings& settings)
      : guard(settings.accessKeys, settings.metricsOpen),
        index(cache),
        service(store, index, providers),
        router(service, store, metrics, settings.tails) {
    // Counts come from the routing snapshot at scrape time. The registry keeps the
    // collector, so the cache must outlive every render of the registry.
    metrics.addCollector([&cache](std::string& out) {
      static const std::map<std::string, routing::SpaceCounts, std::less<>> kNone;
      const auto snapshot = cache.snapshot();
      renderResourceCounts(out, snapshot ? snapshot->counts() : kNone);
      out.append(
          "# HELP eventgateway_config_relists_total Times the configuration watch fell "
          "behind the store's compaction and everything was read again.\n"
          "# TYPE eventgateway_config_relists_total counter\n"
          "eventgateway_config_relists_total ");
      out.append(std::to_string(cache.relists())).append("\n");
    });
  }

  AccessGuard guard;
  CacheRouteIndex index;
  ConfigService service;
  ApiRouter router;
};

ConfigApi::ConfigApi(store::Store& store, routing::ConfigCache& cache,
                     const providers::ProviderRegistry& providers, metrics::Registry& metrics,
                     ConfigApiSettings settings)
    : impl_(std::make_unique<Impl>(store, cache, providers, metrics, settings)) {}

ConfigApi::~ConfigApi() = default;

boost::asio::awaitable<net::Reply> ConfigApi::handle(net::Request& request) {
  if (auto refused = impl_->guard.check(request)) co_return std::move(*refused);
  co_return co_await impl_->router.handle(request);
}

}  // namespace eg::config
