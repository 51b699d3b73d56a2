#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include <boost/asio/awaitable.hpp>

#include "common/result.h"
#include "model/resources.h"
#include "providers/provider.h"
#include "routing/snapshot.h"
#include "store/store.h"

namespace eg::routing {

// Keeps every instance's in-memory copy of the configuration, filled from the store
// (list, then watch from the next revision; on kCompacted, list again) — never from the
// Config API's write path. Publishes immutable Snapshots for routing, and answers the
// Config API's path-conflict checks from the same routing table in O(path length). Each
// change costs its own size, not the table's (routing_table.h). Thread-safe.
class ConfigCache {
 public:
  ConfigCache(store::Store& store, const providers::ProviderRegistry& registry);
  ~ConfigCache();
  ConfigCache(const ConfigCache&) = delete;
  ConfigCache& operator=(const ConfigCache&) = delete;

  // Reads all configuration, publishes the first snapshot and starts watching.
  // kUnavailable when the store cannot be read.
  boost::asio::awaitable<Status> start();
  // Stops watching; the last snapshot stays readable.
  void stop();

  // The current snapshot; never null after start(). Cheap for readers: one shared_ptr
  // copy in a critical section that writers hold only to swap the pointer.
  std::shared_ptr<const Snapshot> snapshot() const;

  // The store revision the routing table reflects (every change up to it applied).
  int64_t appliedRevision() const;

  // How often the watch fell behind the store's compaction and everything was read
  // again since start() (the first read not counted).
  uint64_t relists() const;

  struct SyncCheck {
    Status status;               // kInvalid with a message naming the conflicting path
    int64_t routesModRevision;   // modRevision of model::kRoutesSentinelKey as applied (0: absent)
  };
  // Whether a new sync subscription conflicts with the sync routes applied so far (of
  // subscriptions whose function exists, as the Config API keeps every one):
  // the same (method, path, eventType) in any space (kAlreadyExists if the same
  // subscription ID, else kInvalid), a static segment where a parameter is registered
  // at the same place or the reverse, or the same place's parameter under another name.
  SyncCheck checkSyncRoute(const model::Subscription& candidate) const;

  // Resolves true once appliedRevision() >= revision and a snapshot reflecting it is
  // published (so routing sees the change too), false after `timeout`. Wakes as soon as
  // that snapshot is published. The calling coroutine's executor must be single-threaded
  // or a strand; the cache must outlive the wait.
  boost::asio::awaitable<bool> waitForRevision(int64_t revision,
                                               std::chrono::milliseconds timeout);

  // Called after each new snapshot is published, on the thread that published it (the
  // store watch's, or the cache's own after a re-list); must be cheap.
  void onSnapshot(std::function<void(const Snapshot&)> listener);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace eg::routing
