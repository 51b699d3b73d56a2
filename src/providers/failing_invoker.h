#pragma once

#include <string>

#include "providers/provider.h"

namespace eg::providers {

// An Invoker whose every call fails with the same error. Used where a function cannot
// be called: a stored provider that no longer validates, or a type whose calls this
// build does not make. The function stays visible in the configuration, and each call
// reports why it failed instead of the function silently vanishing.
class FailingInvoker final : public Invoker {
 public:
  explicit FailingInvoker(Error error) : error_(std::move(error)) {}
  using Invoker::call;
  boost::asio::awaitable<Result<CallResult>> call(std::string_view payload,
                                                  CallContext context) const override;

 private:
  Error error_;
};

}  // namespace eg::providers
