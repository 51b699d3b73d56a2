#pragma once

#include <memory>

#include <boost/asio/awaitable.hpp>

#include "access/key_store.h"
#include "metrics/metrics.h"
#include "net/http_server.h"
#include "observe/tail.h"
#include "providers/provider.h"
#include "routing/config_cache.h"
#include "store/store.h"

namespace eg::config {

// | option       | default | meaning                                                    |
// |--------------|---------|------------------------------------------------------------|
// | accessKeys   | null    | keys the API asks for (spec §6); null: open to anyone      |
// | metricsOpen  | false   | with keys, /v1/metrics and /metrics still need none        |
// | tails        | null    | the live tails served at /v1/spaces/<space>/events/tail;   |
// |              |         | null: that path is not found                               |
struct ConfigApiSettings {
  const access::KeyStore* accessKeys = nullptr;  // outlives the ConfigApi
  bool metricsOpen = false;
  observe::TailHub* tails = nullptr;  // outlives the ConfigApi
};

// The Config API (spec §2): functions, event types, subscriptions, CORS under
// /v1/spaces/<space>/..., the space's event tail (spec §7), plus /v1/status and
// /v1/metrics. A plain function from request
// to reply (net::ReplyHandler: lists are streamed); all state lives in the store. With
// access keys each request is checked (config/access_guard.h) before it is routed.
// Thread-safe.
class ConfigApi {
 public:
  ConfigApi(store::Store& store, routing::ConfigCache& cache,
            const providers::ProviderRegistry& providers, metrics::Registry& metrics,
            ConfigApiSettings settings = {});
  ~ConfigApi();
  ConfigApi(const ConfigApi&) = delete;
  ConfigApi& operator=(const ConfigApi&) = delete;

  boost::asio::awaitable<net::Reply> handle(net::Request& request);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::config
