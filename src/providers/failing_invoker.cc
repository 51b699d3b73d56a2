#include "providers/failing_invoker.h"

namespace eg::providers {

boost::asio::awaitable<Result<CallResult>> FailingInvoker::call(std::string_view, CallContext) const {
  co_return error_;
}

}  // namespace eg::providers
