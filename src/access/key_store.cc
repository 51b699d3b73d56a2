#include "access/key_store.h"

#include <utility>

namespace eg::access {
namespace {

std::atomic<uint64_t> nextStoreId{1};

}  // namespace

KeyStore::KeyStore(std::shared_ptr<const KeySet> initial)
    : current_(std::move(initial)), id_(nextStoreId.fetch_add(1, std::memory_order_relaxed)) {}

std::shared_ptr<const KeySet> KeyStore::current() const {
  // Weak, so that a thread does not keep removed keys' digests alive after a reload.
  struct Last {
    uint64_t id = 0;
    uint64_t generation = 0;
    std::weak_ptr<const KeySet> set;
  };
  thread_local Last last;
  const uint64_t g = generation_.load(std::memory_order_acquire);
  if (last.id == id_ && last.generation == g) {
    if (auto set = last.set.lock()) return set;
  }
  std::shared_ptr<const KeySet> set;
  {
    std::lock_guard lock(mu_);
    set = current_;
  }
  last.id = id_;
  last.generation = g;
  last.set = set;
  return set;
}

void KeyStore::replace(std::shared_ptr<const KeySet> next) {
  std::shared_ptr<const KeySet> old;
  {
    std::lock_guard lock(mu_);
    old = std::exchange(current_, std::move(next));
    // Inside the lock, as routing/config_cache.cc publishes: a reader that took the lock
    // after this sees the new generation, not a remembered older set.
    generation_.fetch_add(1, std::memory_order_release);
  }
  // `old` is released here, outside the lock, or by the last request that holds it.
}

}  // namespace eg::access
