#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json.hpp>

#include "common/result.h"
#include "config/write_queue.h"
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

// One collection of one space as the store answered it, read out one resource at a time,
// so that a list of any length holds the stored values and one decoded resource, never
// all of them decoded: take() decodes the next stored value and frees it. A value that
// does not decode (never written by this API) is logged and skipped, and so is a
// resource the filters do not match. Movable; not thread-safe.
template <class T>
class ResourceList {
 public:
  ResourceList(store::RangeResult range, std::string space, MetadataFilters filters);

  // Whether every stored value was taken.
  bool done() const { return next_ == range_.kvs.size(); }
  // The resource of the next stored value, or nullopt when that one is skipped. Only
  // while !done().
  std::optional<T> take();

 private:
  store::RangeResult range_;
  std::size_t next_ = 0;
  std::string space_;
  MetadataFilters filters_;
};

// The operations of the Config API over the Store (spec §2). Validation, existence and
// in-use checks, and the store transactions that keep them true when several requests
// (or several gateway instances) race:
//  - a write that references a function or an event type (a subscription's function,
//    dead-letter function and event type; an event type's authorizer; a weighted
//    function's targets) compares that key's modRevision, so it fails if the referenced
//    resource went (or, for a target, became weighted) meanwhile; it does not write that
//    key, so writes that reference one resource never collide;
//  - a delete lists the users of the resource, then compares that nothing under their
//    collection prefix was created or changed since that list, so a user written after
//    the check fails the delete, which looks again; turning a function into a weighted
//    one looks for weighted functions that call it the same way;
//  - a sync subscription also compares and bumps the routes sentinel, so two conflicting
//    routes can never both be admitted (the conflict check runs on the route index).
// On the embedded store this instance's writes run one at a time, in arrival order
// (reads do not wait), so they never fail each other's compares; with etcd a lost
// compare is read again and retried until kWriteDeadline.
// Errors: kInvalid (400), kNotFound (404), kAlreadyExists (409), kUnavailable (503: store
// unreachable or a race that did not settle), kInternal (500). Messages are the API's.
// Thread-safe; the store and the route index must outlive the service.
class ConfigService {
 public:
  ConfigService(store::Store& store, SyncRouteIndex& routes,
                const providers::ProviderRegistry& providers);

  // Runs `work` on the store's home executor when it has one (store::Store::home), so
  // that each of its store calls completes without a thread hand-off; otherwise here.
  // A write makes several calls in a row (reads, then its transaction).
  template <class T>
  asio::awaitable<T> nearStore(asio::awaitable<T> work) {
    if (auto home = store_.home()) {
      co_return co_await asio::co_spawn(*home, std::move(work), asio::use_awaitable);
    }
    co_return co_await std::move(work);
  }

  asio::awaitable<Result<model::Function>> createFunction(std::string space, boost::json::value body);
  asio::awaitable<Result<model::Function>> updateFunction(std::string space, std::string id,
                                                          boost::json::value body);
  asio::awaitable<Status> deleteFunction(std::string space, std::string id);
  asio::awaitable<Result<model::Function>> getFunction(std::string space, std::string id);
  asio::awaitable<Result<ResourceList<model::Function>>> listFunctions(
      std::string space, MetadataFilters filters);

  asio::awaitable<Result<model::EventType>> createEventType(std::string space,
                                                            boost::json::value body);
  asio::awaitable<Result<model::EventType>> updateEventType(std::string space, std::string name,
                                                            boost::json::value body);
  asio::awaitable<Status> deleteEventType(std::string space, std::string name);
  asio::awaitable<Result<model::EventType>> getEventType(std::string space, std::string name);
  asio::awaitable<Result<ResourceList<model::EventType>>> listEventTypes(
      std::string space, MetadataFilters filters);

  asio::awaitable<Result<model::Subscription>> createSubscription(std::string space,
                                                                  boost::json::value body);
  asio::awaitable<Result<model::Subscription>> updateSubscription(std::string space,
                                                                  std::string id,
                                                                  boost::json::value body);
  asio::awaitable<Status> deleteSubscription(std::string space, std::string id);
  asio::awaitable<Result<model::Subscription>> getSubscription(std::string space, std::string id);
  asio::awaitable<Result<ResourceList<model::Subscription>>> listSubscriptions(
      std::string space, MetadataFilters filters);

  asio::awaitable<Result<model::Cors>> createCors(std::string space, boost::json::value body);
  asio::awaitable<Result<model::Cors>> updateCors(std::string space, std::string id,
                                                  boost::json::value body);
  asio::awaitable<Status> deleteCors(std::string space, std::string id);
  asio::awaitable<Result<model::Cors>> getCors(std::string space, std::string id);
  asio::awaitable<Result<ResourceList<model::Cors>>> listCors(
      std::string space, MetadataFilters filters);

  // How long a create/update/delete, once its turn came, goes on re-reading and retrying
  // (with jittered exponential backoff) after losing a compare to another instance's
  // write; then 503. And how long a sync create waits for the route index to catch up
  // with the store.
  static constexpr std::chrono::seconds kWriteDeadline{10};
  static constexpr std::chrono::milliseconds kIndexWait{2000};

 private:
  asio::awaitable<Result<std::optional<store::KeyValue>>> read(std::string key);
  asio::awaitable<Result<store::RangeResult>> readAll(std::string prefix);
  template <class T>
  asio::awaitable<Result<T>> getResource(std::string space, std::string id);
  template <class T>
  asio::awaitable<Result<ResourceList<T>>> listResources(std::string space,
                                                        MetadataFilters filters);
  template <class T, class Check>
  asio::awaitable<Status> deleteResource(std::string space, std::string id, Check check);
  // Refuses deleting `what` (e.g. `Function "f"`) when a subscription of `space` uses it.
  // `uses(subscription)` answers how ("uses it", "uses it as its dead-letter function"),
  // or nullopt when it does not. Adds the compare that fails the delete if a subscription
  // is created or changed after this check.
  template <class Uses>
  asio::awaitable<Status> refuseIfSubscribed(std::string space, std::string what, Uses uses,
                                             std::vector<store::Compare>& compares);
  // Adds the compare that fails the write if function `id` is deleted (or changed)
  // meanwhile; nothing when `compares` names it already (a transaction may name a key
  // once). `missing` when there is no such function.
  asio::awaitable<Status> pinFunction(std::string space, std::string id, Error missing,
                                      std::vector<store::Compare>& compares);
  Status validateProvider(const model::Function& fn) const;
  // For a weighted `fn`: refuses a target that is `fn` itself, missing or weighted, and
  // adds the compares that fail the write if a target is deleted or changed meanwhile.
  // Nothing for other functions.
  asio::awaitable<Status> pinTargets(const model::Function& fn,
                                     std::vector<store::Compare>& compares);
  // Refuses `Function "<id>" cannot <action> because weighted function "<w>" calls it.`
  // when a weighted function of `space` names `id` as a target. Adds the compare that
  // fails the write if a function of the space is created or changed after this check.
  asio::awaitable<Status> refuseIfTargeted(std::string space, std::string id,
                                           std::string_view action,
                                           std::vector<store::Compare>& compares);
  // A write's turn. Where this instance is the store's only writer (embedded), its
  // writes go one at a time, so none loses a compare; against etcd they run side by
  // side (nullopt) and retry what they lose until kWriteDeadline.
  asio::awaitable<std::optional<WriteQueue::Turn>> writeTurn();
  // Applies a write's transaction, lets the next write in (releases `turn`), then waits
  // until it is durable: writes that wait together share one sync (store::Store::durable).
  // Only on success is the turn released; a lost compare keeps it for the retry.
  asio::awaitable<Result<store::TxnResult>> commit(std::optional<WriteQueue::Turn>& turn,
                                                   std::vector<store::Compare> compares,
                                                   std::vector<store::Op> ops);

  store::Store& store_;
  SyncRouteIndex& routes_;
  const providers::ProviderRegistry& providers_;
  WriteQueue writes_;
};

// Whether `metadata` satisfies every filter.
bool matchesFilters(const Boxed<model::Metadata>& metadata, const MetadataFilters& filters);

// The API error for a failed store call: kUnavailable stays kUnavailable (503) with
// "Configuration store unavailable: ..."; everything else becomes kInternal (500).
Error storeError(const Error& e);

}  // namespace eg::config
