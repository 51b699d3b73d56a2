#include "store/store.h"

namespace eg::store {

asio::awaitable<Status> Store::durable(int64_t /*revision*/) { co_return Status{}; }

}  // namespace eg::store
