// The authorizer step (spec §3.4), with its cache (spec §6): before the sync call, and
// inside each async delivery. Part of Dispatcher (dispatcher.h).
#include <memory>
#include <string>

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "dispatch/authorizer.h"
#include "dispatch/dispatcher.h"
#include "events/request_to_event.h"

namespace eg::dispatch {

namespace asio = boost::asio;
namespace json = boost::json;

asio::awaitable<Result<json::object>> Dispatcher::authorize(
    const routing::Snapshot& snapshot, const model::EventType& type, const AuthorizerKey& key,
    const routing::PickKey& pick, std::string_view eventJson, std::string_view requestJson,
    providers::CallContext context, const net::Request* lazyRequest, std::string_view lazyPath) {
  const std::string_view space = type.space;
  const std::string& authorizerId = *type.authorizerId;
  std::string cacheKey;  // not empty: the decision is cached under it
  if (type.authorizerCache && authorizerCache_->enabled()) {
    // Built in the thread's buffer, so that a hit allocates nothing; copied out only on
    // a miss, before the call lets another request of the thread use the buffer.
    thread_local std::string built;
    if (key.build(type, built)) {
      if (auto hit = authorizerCache_->find(built, snapshot.revision())) {
        counter(cacheHits_, space, type.name).inc();
        if (hit->allowed) co_return json::object(hit->authorization);
        spdlog::debug("authorization refused (cached): space={} authorizerId={} reason={}",
                      space, authorizerId, hit->message);
        co_return Error::invalid(hit->message);
      }
      cacheKey = built;
    }
    counter(cacheMisses_, space, type.name).inc();
  }
  const routing::FunctionEntry* function = callee(snapshot, space, authorizerId, pick);
  if (function == nullptr || function->invoker == nullptr) {
    spdlog::info("authorizer function {} of space {} cannot be called", authorizerId, space);
    co_return Error::unavailable("authorizer function cannot be called");
  }
  std::string written;
  if (lazyRequest != nullptr && requestJson.empty()) {
    written = events::httpRequestText(*lazyRequest, lazyPath);
    requestJson = written;
  }
  auto result =
      co_await function->invoker->call(authorizerPayload(eventJson, requestJson), context);
  if (!result) {
    spdlog::info("authorizer invocation failed: space={} functionId={} error={}", space,
                 function->function.functionId, result.error().message);
    co_return std::move(result).error();
  }
  auto authorization = parseAuthorizerResult(result->body);
  if (!authorization) {
    spdlog::info("authorization refused: space={} authorizerId={} reason={}", space,
                 authorizerId, authorization.error().message);
  }
  if (!cacheKey.empty()) {
    // The authorizer answered: what it said is a decision, refusal or not.
    auto decision = std::make_shared<AuthorizerDecision>();
    decision->allowed = authorization.ok();
    if (authorization) {
      decision->authorization = *authorization;
    } else {
      decision->message = authorization.error().message;
    }
    authorizerCache_->store(cacheKey, snapshot.revision(), std::move(decision),
                            type.authorizerCache->ttl.value);
  }
  co_return authorization;
}

}  // namespace eg::dispatch
