#include "access/key_store.h"

#include <utility>

namespace eg::access {

KeyStore::KeyStore(std::shared_ptr<const KeySet> initial) : current_(std::move(initial)) {}

std::shared_ptr<const KeySet> KeyStore::current() const { return current_.load(); }

void KeyStore::replace(std::shared_ptr<const KeySet> next) {
  // The old set is released here, outside the lock, or by the last request that holds it.
  current_.publish(std::move(next));
}

}  // namespace eg::access
