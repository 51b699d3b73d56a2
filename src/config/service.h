#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include "common/result.h"
#include "model/resources.h"
#include "providers/provider.h"
#include "routing/config_cache.h"
#include "store/store.h"

namespace eg::config {

namespace asio = boost::asio;

// The sync-route conflict check of the in-memory route index (routing::ConfigCache in
// production; a fake in tests). See ConfigCache::checkSyncRoute / waitForRevision.
class SyncRouteIndex {
 public:
  virtual ~SyncRouteIndex() = default;
  virtual routing::ConfigCache::SyncCheck checkSyncRoute(
      const model::Subscription& candidate) const = 0;
  virtual asio::awaitable<bool> waitForRevision(int64_t revision,
                                                std::chrono::milliseconds timeout) = 0;
};

// `metadata.<key>=<value>` query filters: every pair must match; a resource without
// metadata matches no filter.
using MetadataFilters = std::vector<std::pair<std::string, std::string>>;

// The operations of the Config API over the Store (spec §2). Validation, existence and
// in-use checks, and the store transactions that keep them true when several requests
// (or several gateway instances) race:
//  - a create that references a function or an event type compares that key's
//    modRevision and rewrites it unchanged in the same transaction, so a concurrent
//    delete (which compares the same modRevision after checking for users) cannot leave
//    a dangling reference; a subscription's dead-letter function (deliveryPolicy, spec
//    §5) is pinned the same way, on create and on update;
//  - a sync subscription also compares and bumps the routes sentinel, so two conflicting
//    routes can never both be admitted (the conflict check runs on the route index).
// Errors: kInvalid (400), kNotFound (404), kAlreadyExists (409), kUnavailable (503: store
// unreachable or a race that did not settle), kInternal (500). Messages are the API's.
// Thread-safe; the store and the route index must outlive the service.
class ConfigService {
 public:
  ConfigService(store::Store& store, SyncRouteIndex& routes,
                const providers::ProviderRegistry& providers);

  asio::awaitable<Result<model::Function>> createFunction(std::string space, boost::json::value body);
  asio::awaitable<Result<model::Function>> updateFunction(std::string space, std::string id,
                                                          boost::json::value body);
  asio::awaitable<Status> deleteFunction(std::string space, std::string id);
  asio::awaitable<Result<model::Function>> getFunction(std::string space, std::string id);
  asio::awaitable<Result<std::vector<model::Function>>> listFunctions(std::string space,
                                                                      MetadataFilters filters);

  asio::awaitable<Result<model::EventType>> createEventType(std::string space,
                                                            boost::json::value body);
  asio::awaitable<Result<model::EventType>> updateEventType(std::string space, std::string name,
                                                            boost::json::value body);
  asio::awaitable<Status> deleteEventType(std::string space, std::string name);
  asio::awaitable<Result<model::EventType>> getEventType(std::string space, std::string name);
  asio::awaitable<Result<std::vector<model::EventType>>> listEventTypes(std::string space,
                                                                        MetadataFilters filters);

  asio::awaitable<Result<model::Subscription>> createSubscription(std::string space,
                                                                  boost::json::value body);
  asio::awaitable<Result<model::Subscription>> updateSubscription(std::string space,
                                                                  std::string id,
                                                                  boost::json::value body);
  asio::awaitable<Status> deleteSubscription(std::string space, std::string id);
  asio::awaitable<Result<model::Subscription>> getSubscription(std::string space, std::string id);
  asio::awaitable<Result<std::vector<model::Subscription>>> listSubscriptions(
      std::string space, MetadataFilters filters);

  asio::awaitable<Result<model::Cors>> createCors(std::string space, boost::json::value body);
  asio::awaitable<Result<model::Cors>> updateCors(std::string space, std::string id,
                                                  boost::json::value body);
  asio::awaitable<Status> deleteCors(std::string space, std::string id);
  asio::awaitable<Result<model::Cors>> getCors(std::string space, std::string id);
  asio::awaitable<Result<std::vector<model::Cors>>> listCors(std::string space,
                                                             MetadataFilters filters);

  // How often a create/update/delete re-reads and retries after losing a race, and how
  // long a sync create waits for the route index to catch up with the store.
  static constexpr int kMaxAttempts = 32;
  static constexpr std::chrono::milliseconds kIndexWait{2000};

 private:
  asio::awaitable<Result<std::optional<store::KeyValue>>> read(std::string key);
  asio::awaitable<Result<store::RangeResult>> readAll(std::string prefix);
  template <class T>
  asio::awaitable<Result<T>> getResource(std::string space, std::string id);
  template <class T>
  asio::awaitable<Result<std::vector<T>>> listResources(std::string space, MetadataFilters filters);
  template <class T, class Check>
  asio::awaitable<Status> deleteResource(std::string space, std::string id, Check check);
  // Refuses deleting `what` (e.g. `Function "f"`) when a subscription of `space` uses it.
  // `uses(subscription)` answers how ("uses it", "uses it as its dead-letter function"),
  // or nullopt when it does not.
  template <class Uses>
  asio::awaitable<Status> refuseIfSubscribed(std::string space, std::string what, Uses uses);
  // Adds the compare and unchanged rewrite of function `id` that keep a concurrent delete
  // from leaving a reference to it dangling; nothing when `compares` pins it already (a
  // transaction may name a key once). `missing` when there is no such function.
  asio::awaitable<Status> pinFunction(std::string space, std::string id, Error missing,
                                      std::vector<store::Compare>& compares,
                                      std::vector<store::Op>& ops);
  Status validateProvider(const model::Function& fn) const;

  store::Store& store_;
  SyncRouteIndex& routes_;
  const providers::ProviderRegistry& providers_;
};

// Whether `metadata` satisfies every filter.
bool matchesFilters(const std::optional<model::Metadata>& metadata, const MetadataFilters& filters);

// The API error for a failed store call: kUnavailable stays kUnavailable (503) with
// "Configuration store unavailable: ..."; everything else becomes kInternal (500).
Error storeError(const Error& e);

}  // namespace eg::config
