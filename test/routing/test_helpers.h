#pragma once

#include <atomic>
#include <memory>
#include <string>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/use_future.hpp>

#include "model/resources.h"
#include "providers/provider.h"

namespace eg::routing::testing {

class FakeInvoker final : public providers::Invoker {
 public:
  explicit FakeInvoker(std::string tag) : tag_(std::move(tag)) {}
  using Invoker::call;
  boost::asio::awaitable<Result<providers::CallResult>> call(std::string_view,
                                                             providers::CallContext) const override {
    co_return providers::CallResult{tag_, "text/plain"};
  }
  const std::string& tag() const { return tag_; }

 private:
  std::string tag_;
};

// Counts the invokers it creates, so tests can tell reuse from re-creation.
class FakeFactory final : public providers::ProviderFactory {
 public:
  explicit FakeFactory(std::shared_ptr<std::atomic<int>> created) : created_(std::move(created)) {}
  Status validate(const boost::json::object&) const override { return {}; }
  std::unique_ptr<providers::Invoker> create(const model::Function& f) const override {
    ++*created_;
    return std::make_unique<FakeInvoker>(f.space + "/" + f.functionId);
  }

 private:
  std::shared_ptr<std::atomic<int>> created_;
};

inline model::Function function(std::string space, std::string id, std::string type = "fake") {
  model::Function f;
  f.space = std::move(space);
  f.functionId = std::move(id);
  f.type = std::move(type);
  f.provider["url"] = "http://127.0.0.1:1/";
  return f;
}

inline model::EventType eventType(std::string space, std::string name) {
  model::EventType e;
  e.space = std::move(space);
  e.name = std::move(name);
  return e;
}

inline model::Subscription subscription(std::string space, std::string id,
                                        model::SubscriptionType type, std::string eventType,
                                        std::string functionId, std::string method,
                                        std::string path) {
  model::Subscription s;
  s.space = std::move(space);
  s.subscriptionId = std::move(id);
  s.type = type;
  s.eventType = std::move(eventType);
  s.functionId = std::move(functionId);
  s.method = std::move(method);
  s.path = std::move(path);
  return s;
}

inline model::Cors cors(std::string space, std::string method, std::string path,
                        std::string origin) {
  model::Cors c;
  c.space = std::move(space);
  c.method = std::move(method);
  c.path = std::move(path);
  c.corsId = c.method + c.path;
  c.rules.origins = {std::move(origin)};
  return c;
}

// Runs one coroutine to completion on a private io_context.
template <class T>
T runAwaitable(boost::asio::awaitable<T> aw) {
  boost::asio::io_context ioc;
  auto fut = boost::asio::co_spawn(ioc, std::move(aw), boost::asio::use_future);
  ioc.run();
  return fut.get();
}

}  // namespace eg::routing::testing
