#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>

#include "access/key_set.h"

namespace eg::access {

// The key set in force, replaced whole when the file is re-read (SIGHUP). A request
// holds the set it loaded until it is answered, so a reload never changes the keys
// under a check in progress. Readers take no lock unless a replace happened since
// their thread last looked; replace() may run on any thread.
class KeyStore {
 public:
  explicit KeyStore(std::shared_ptr<const KeySet> initial);
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Never null.
  std::shared_ptr<const KeySet> current() const;
  void replace(std::shared_ptr<const KeySet> next);

 private:
  // Not std::atomic<shared_ptr>: libstdc++ 12's load() is not race-free (see
  // routing/config_cache.cc). A thread re-reads under the lock only when generation_
  // moved; otherwise it reuses the set it loaded last.
  mutable std::mutex mu_;
  std::shared_ptr<const KeySet> current_;
  std::atomic<uint64_t> generation_{0};
  const uint64_t id_;
};

}  // namespace eg::access
