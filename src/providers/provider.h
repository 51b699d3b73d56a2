#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>
#include <boost/json.hpp>

#include "common/result.h"
#include "model/resources.h"

namespace eg::providers {

// What a successful call returned: the function's answer body (for http: the response
// body; for AWS services: the service's response).
struct CallResult {
  std::string body;
  std::string contentType;
  // The HTTP status of an http function's answer (below 500: 5xx answers are failed
  // calls); 200 for the other providers' successful calls. Async deliveries retry 408
  // and 429 and give up on other 4xx answers at once.
  unsigned status = 200;
  // The answer's Retry-After, when it had one.
  std::optional<std::chrono::milliseconds> retryAfter = std::nullopt;
};

// Calls one registered function. Built once per function when the configuration
// snapshot is built (URLs parsed, credentials resolved lazily), then shared by every
// request: immutable and thread-safe. A failed call (transport error, timeout, 5xx,
// function error) is an Error whose message is safe to log and to put in an
// invocationFailed system event (never contains secrets). Its kind says whether trying
// again may help: kTimeout and kUnavailable may (throttling, 5xx, transport, function
// errors), kRejected will not (a 4xx answer of an AWS service); retryAfter carries the
// callee's Retry-After.
// What a call carries beside the event: the W3C trace context of the request that
// brought it (spec §3.8), empty when it had none. The views must outlive the call.
struct CallContext {
  std::string_view traceparent;
  std::string_view tracestate;
};

class Invoker {
 public:
  virtual ~Invoker() = default;
  // `payload` is the CloudEvent JSON. An http function gets `context` as the
  // traceparent and tracestate headers; the AWS services have no place for it beyond
  // the event itself (a 1.0 event carries it as extensions).
  virtual boost::asio::awaitable<Result<CallResult>> call(std::string_view payload,
                                                          CallContext context) const = 0;
  // A call with no trace context. (Implementations say `using Invoker::call;`.)
  boost::asio::awaitable<Result<CallResult>> call(std::string_view payload) const {
    return call(payload, CallContext{});
  }
};

// One per provider type name ("http", "awslambda", ...).
class ProviderFactory {
 public:
  virtual ~ProviderFactory() = default;
  // Checks the `provider` object of a function registration. The error (kInvalid) names
  // the field, e.g. `Missing required field "url" in provider.`
  virtual Status validate(const boost::json::object& provider) const = 0;
  // The provider fields that are secrets, to be redacted in logs.
  virtual bool isSecretField(std::string_view field) const { return false; }
  virtual std::unique_ptr<Invoker> create(const model::Function& function) const = 0;
};

// Provider factories by type name, filled once at start-up by registerBuiltinProviders
// (no static-initialiser registration). Read-only afterwards, so safe to share.
class ProviderRegistry {
 public:
  void add(std::string type, std::unique_ptr<ProviderFactory> factory);
  const ProviderFactory* find(std::string_view type) const;  // nullptr when unknown

 private:
  std::map<std::string, std::unique_ptr<ProviderFactory>, std::less<>> factories_;
};

}  // namespace eg::providers
