#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "common/boxed.h"

namespace eg::model {

using Metadata = std::map<std::string, std::string>;

// A function's `limits` (spec §6), per gateway instance: at most `rate` calls a second
// on average with bursts of `burst` (a token bucket), and at most `concurrency` calls
// at once. Each is optional; at least one is set.
struct FunctionLimits {
  std::optional<double> rate;          // calls per second, > 0
  std::optional<int64_t> burst;        // the bucket; default: rate rounded up, at least 1
  std::optional<int64_t> concurrency;
};

struct Function {
  std::string space;
  std::string functionId;
  std::string type;                 // provider type name: "http", "awslambda", ...
  boost::json::object provider;     // validated by the provider's factory
  Boxed<Metadata> metadata;
  std::optional<FunctionLimits> limits;
};

// Gen 1 `cors` of an http subscription, and the settings of a CORS resource.
struct CorsRules {
  std::vector<std::string> origins{"*"};
  std::vector<std::string> methods{"HEAD", "GET", "POST"};
  std::vector<std::string> headers{"Origin", "Accept", "Content-Type"};
  bool allowCredentials = false;
};

// A Go duration as a client wrote it ("200ms", "1m30s") and its value. Output echoes
// `text`, so that a client reads back exactly what it sent.
struct Duration {
  std::string text;
  std::chrono::milliseconds value{0};
};

// `authorizerCache` of an event type (spec §6): its authorizer's decisions, allow and
// refusal alike, are reused for requests with the same key until `ttl` has passed.
// Each key part is "header:<Name>" or "query:<name>", as the client wrote it; absent,
// the key is the Authorization header (kDefaultAuthorizerCacheKey).
struct AuthorizerCache {
  Duration ttl;
  std::optional<std::vector<std::string>> key;
};

inline constexpr std::string_view kDefaultAuthorizerCacheKey = "header:Authorization";

struct EventType {
  std::string space;
  std::string name;
  std::optional<std::string> authorizerId;
  std::optional<AuthorizerCache> authorizerCache;  // only with authorizerId
  Boxed<Metadata> metadata;
};

enum class Backoff { kExponential, kLinear, kConstant };

// `deliveryPolicy` of an async subscription (spec §5). Every field is optional: the
// gateway-wide defaults (-delivery-* flags) fill what is absent, when a delivery is made.
struct DeliveryPolicy {
  std::optional<int> retries;                       // 0–1000 retries after the first attempt
  std::optional<Backoff> backoff;
  std::optional<Duration> backoffDelay;             // the first retry's delay
  std::optional<Duration> maxBackoff;               // no retry waits longer
  std::optional<Duration> maxEventAge;              // no attempt after the event is this old
  std::optional<std::string> deadLetterFunctionId;  // a function of the same space
};

// The API generation a resource was created with; output keeps that shape.
enum class Generation { k1, k2 };

enum class SubscriptionType { kSync, kAsync, kInvoke };

// Gen 1 subscriptions map onto the same record:
//   event "http"   -> kSync,   eventType "http.request"
//   event "invoke" -> kInvoke, eventType "invoke"
//   event <name>   -> kAsync,  eventType <name>, method POST
struct Subscription {
  std::string space;
  std::string subscriptionId;
  Generation generation = Generation::k2;
  SubscriptionType type = SubscriptionType::kAsync;
  std::string eventType;
  std::string functionId;
  std::string method = "POST";
  std::string path = "/";
  Boxed<Metadata> metadata;
  Boxed<CorsRules> cors;  // Gen 1 http subscriptions only
  Boxed<DeliveryPolicy> deliveryPolicy;  // async subscriptions only
  // Async subscriptions only (spec §3.9): the expressions as the client wrote them,
  // checked by events::Filter::compile; the routing snapshot compiles them.
  Boxed<boost::json::array> filters;
};

struct Cors {
  std::string space;
  std::string corsId;
  std::string method;
  std::string path;
  CorsRules rules;
  Boxed<Metadata> metadata;
};

// The event type name Gen 1 http subscriptions and raw HTTP requests use.
inline constexpr const char* kHttpRequestEventType = "http.request";
inline constexpr const char* kInvokeEventType = "invoke";

}  // namespace eg::model
