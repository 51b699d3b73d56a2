#include "dispatch/authorizer_cache.h"

#include <iterator>
#include <list>
#include <mutex>
#include <unordered_map>
#include <utility>

namespace eg::dispatch {

namespace {

struct KeyHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

}  // namespace

struct AuthorizerCache::Shard {
  struct Entry {
    std::string key;
    int64_t revision = 0;
    std::chrono::steady_clock::time_point expires;
    std::shared_ptr<const AuthorizerDecision> decision;
  };
  using List = std::list<Entry>;

  explicit Shard(std::size_t capacity) : capacity(capacity) {}

  void erase(List::iterator it) {
    index.erase(std::string_view(it->key));
    lru.erase(it);
  }

  std::mutex mutex;
  const std::size_t capacity;
  List lru;  // most recently used first
  // Keys view the entries' own strings, which stay put in the list.
  std::unordered_map<std::string_view, List::iterator, KeyHash, std::equal_to<>> index;
};

AuthorizerCache::AuthorizerCache(std::size_t capacity, Clock clock)
    : capacity_(capacity), clock_(std::move(clock)) {
  if (!clock_) clock_ = [] { return std::chrono::steady_clock::now(); };
  if (capacity_ == 0) return;
  const std::size_t shards = capacity_ < kShardedFrom ? 1 : kShards;
  // The shards' capacities add up to `capacity` exactly.
  for (std::size_t i = 0; i < shards; ++i) {
    shards_.push_back(std::make_unique<Shard>(capacity_ / shards + (i < capacity_ % shards)));
  }
}

AuthorizerCache::~AuthorizerCache() = default;

AuthorizerCache::Shard& AuthorizerCache::shardOf(std::string_view key) {
  if (shards_.size() == 1) return *shards_.front();
  // The map hashes the key again with the same function; the high bits pick the shard
  // so that a shard's buckets still see every low bit.
  const std::size_t h = KeyHash{}(key);
  return *shards_[(h >> 32 ^ h) % shards_.size()];
}

std::shared_ptr<const AuthorizerDecision> AuthorizerCache::find(std::string_view key,
                                                                int64_t revision) {
  if (capacity_ == 0) return nullptr;
  Shard& shard = shardOf(key);
  const auto now = clock_();
  std::lock_guard lock(shard.mutex);
  const auto found = shard.index.find(key);
  if (found == shard.index.end()) return nullptr;
  const Shard::List::iterator it = found->second;
  if (it->revision != revision || it->expires <= now) {
    shard.erase(it);
    return nullptr;
  }
  shard.lru.splice(shard.lru.begin(), shard.lru, it);
  return it->decision;
}

void AuthorizerCache::store(std::string_view key, int64_t revision,
                            std::shared_ptr<const AuthorizerDecision> decision,
                            std::chrono::milliseconds ttl) {
  if (capacity_ == 0) return;
  Shard& shard = shardOf(key);
  const auto expires = clock_() + ttl;
  std::lock_guard lock(shard.mutex);
  if (const auto found = shard.index.find(key); found != shard.index.end()) {
    const Shard::List::iterator it = found->second;
    it->revision = revision;
    it->expires = expires;
    it->decision = std::move(decision);
    shard.lru.splice(shard.lru.begin(), shard.lru, it);
    return;
  }
  if (shard.capacity == 0) return;
  if (shard.lru.size() >= shard.capacity) shard.erase(std::prev(shard.lru.end()));
  shard.lru.push_front(Shard::Entry{std::string(key), revision, expires, std::move(decision)});
  shard.index.emplace(std::string_view(shard.lru.front().key), shard.lru.begin());
}

std::size_t AuthorizerCache::size() const {
  std::size_t n = 0;
  for (const auto& shard : shards_) {
    std::lock_guard lock(shard->mutex);
    n += shard->lru.size();
  }
  return n;
}

}  // namespace eg::dispatch
