#pragma once

#include <exception>
#include <string>
#include <utility>

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "common/result.h"

namespace eg {

// Runs `fn` (returning T, a Result) on `ioc`'s thread and completes with its result on
// the caller's executor; an exception `fn` throws becomes kInternal. Callers return this
// awaitable directly instead of being coroutines themselves: g++ 12 destroys a lambda
// temporary inside a co_await expression twice.
template <class T, class Fn>
boost::asio::awaitable<T> callOn(boost::asio::io_context& ioc, Fn fn) {
  namespace asio = boost::asio;
  return asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      [&ioc](auto handler, Fn fn) {
        auto callerWork = asio::make_work_guard(asio::get_associated_executor(handler));
        asio::post(ioc, [handler = std::move(handler), callerWork = std::move(callerWork),
                         fn = std::move(fn)]() mutable {
          T result = [&]() -> T {
            try {
              return fn();
            } catch (const std::exception& e) {
              return Error::internal(std::string("store: ") + e.what());
            }
          }();
          auto ex = callerWork.get_executor();
          asio::post(ex, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
          });
        });
      },
      asio::use_awaitable, std::move(fn));
}

}  // namespace eg
