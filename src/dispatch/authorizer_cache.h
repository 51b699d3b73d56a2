#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

namespace eg::dispatch {

// What an authorizer decided (spec §3.4): the authorization object to attach, or the
// refusal's message. Failed calls are not decisions and never cached.
struct AuthorizerDecision {
  bool allowed = false;
  boost::json::object authorization;  // when allowed
  std::string message;                // when refused: the message of the 403
};

// Authorizer decisions by key (spec §6, `authorizerCache` of an event type), shared by
// every thread of the gateway so that one key costs one authorizer call per TTL
// however requests spread over threads.
//
// Bounded to `capacity` entries in all, least recently used evicted first; 0 disables
// it (find always misses, store keeps nothing). Entries are spread over shards, each
// with its own mutex and LRU order, so that threads rarely wait on each other; a small
// cache (below kShardedFrom entries) is one shard, exactly LRU.
//
// An entry also carries the configuration revision it was decided under: a lookup under
// another revision misses (and drops it), so that a changed event type, authorizer
// function or key never gets a decision made under the old settings.
//
// A hit takes a shard's lock for a hash lookup and a list splice and returns a shared
// pointer: nothing is allocated and nothing parsed. Thread-safe.
class AuthorizerCache {
 public:
  using Clock = std::function<std::chrono::steady_clock::time_point()>;
  static constexpr std::size_t kShardedFrom = 1024;
  static constexpr std::size_t kShards = 16;

  explicit AuthorizerCache(std::size_t capacity, Clock clock = {});
  ~AuthorizerCache();
  AuthorizerCache(const AuthorizerCache&) = delete;
  AuthorizerCache& operator=(const AuthorizerCache&) = delete;

  bool enabled() const { return capacity_ > 0; }
  std::size_t capacity() const { return capacity_; }

  // The decision stored for `key` under `revision`, unless it expired; null otherwise.
  std::shared_ptr<const AuthorizerDecision> find(std::string_view key, int64_t revision);
  // Keeps `decision` for `ttl`, replacing what `key` had, evicting the least recently
  // used entry of its shard when full.
  void store(std::string_view key, int64_t revision,
             std::shared_ptr<const AuthorizerDecision> decision, std::chrono::milliseconds ttl);

  // Entries held, expired ones not yet dropped included.
  std::size_t size() const;

 private:
  struct Shard;
  Shard& shardOf(std::string_view key);

  const std::size_t capacity_;
  Clock clock_;
  std::vector<std::unique_ptr<Shard>> shards_;
};

}  // namespace eg::dispatch
