#pragma once

#include <memory>

#include "access/key_set.h"
#include "common/published.h"

namespace eg::access {

// The key set in force, replaced whole when the file is re-read (SIGHUP). A request
// holds the set it loaded until it is answered, so a reload never changes the keys
// under a check in progress. Readers take no lock unless a replace happened since
// their thread last looked (common/published.h); replace() may run on any thread.
class KeyStore {
 public:
  explicit KeyStore(std::shared_ptr<const KeySet> initial);
  KeyStore(const KeyStore&) = delete;
  KeyStore& operator=(const KeyStore&) = delete;

  // Never null.
  std::shared_ptr<const KeySet> current() const;
  void replace(std::shared_ptr<const KeySet> next);

 private:
  Published<KeySet> current_;
};

}  // namespace eg::access
