#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <utility>

namespace eg {

namespace published_detail {
inline std::atomic<uint64_t> nextId{1};
}  // namespace published_detail

// One immutable value that many threads read and a writer replaces whole (the routing
// snapshot, the access key set). A reader keeps the value it loaded for as long as it
// needs it, so a replace never changes data under a reader.
//
// Readers take no lock unless a replace happened since their thread last loaded: each
// thread remembers, per Published, the value it loaded last and the generation it had,
// and re-reads under the lock only when the generation moved. Remembered weakly, so that
// no thread keeps a replaced value alive. Not std::atomic<shared_ptr>: libstdc++ 12's
// load() releases its internal lock with relaxed ordering, a race under the memory model.
template <class T>
class Published {
 public:
  explicit Published(std::shared_ptr<const T> initial = nullptr) : value_(std::move(initial)) {}
  Published(const Published&) = delete;
  Published& operator=(const Published&) = delete;

  std::shared_ptr<const T> load() const {
    struct Last {
      uint64_t id = 0;
      uint64_t generation = 0;
      std::weak_ptr<const T> value;
    };
    thread_local Last last;
    const uint64_t g = generation_.load(std::memory_order_acquire);
    if (last.id == id_ && last.generation == g) {
      if (auto value = last.value.lock()) return value;
    }
    std::shared_ptr<const T> value = loadFresh();
    // Loaded after reading g: at least as new as generation g's value.
    last.id = id_;
    last.generation = g;
    last.value = value;
    return value;
  }

  // The value under the lock, without the per-thread memory.
  std::shared_ptr<const T> loadFresh() const {
    std::lock_guard lock(mu_);
    return value_;
  }

  // Replaces the value; returns the previous one, for the caller to release outside
  // any lock of its own.
  std::shared_ptr<const T> publish(std::shared_ptr<const T> next) {
    std::lock_guard lock(mu_);
    auto previous = std::exchange(value_, std::move(next));
    // Inside the lock: whoever sees the new value under it also sees the new
    // generation, and reads no remembered older one.
    generation_.fetch_add(1, std::memory_order_release);
    return previous;
  }

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const T> value_;
  std::atomic<uint64_t> generation_{0};
  // Tells instances apart (one may reuse a destroyed one's address).
  const uint64_t id_ = published_detail::nextId.fetch_add(1, std::memory_order_relaxed);
};

}  // namespace eg
