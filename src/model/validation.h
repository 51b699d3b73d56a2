#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/result.h"
#include "model/resources.h"

namespace eg::model {

// Config API request bodies -> resources (spec §2). Every error is kInvalid with a
// message that names the field, prefixed as the SDK shows it to users, e.g.
//   Function doesn't validate. Validation error: Missing required field "functionId".
// The `space` of a body is ignored: the URL's space wins (as in the original gateway).
// Unknown fields are ignored. A field whose value is null counts as absent.
//
// `deliveryPolicy` (spec §5) is the exception to "unknown fields are ignored": it is new,
// and a typo such as "retry" silently ignored would leave a policy other than the one
// the client meant, so an unknown field inside it is a 400 naming it. The policy is
// allowed on async subscriptions only (Gen 2 `async`, Gen 1 custom events); on a sync or
// invoke one it is a 400. `{}` is a policy of all defaults (output `"deliveryPolicy":{}`);
// null, at the top or for one of its fields, counts as absent. Its fields:
//   retries               an integer, 0 to kMaxDeliveryRetries
//   backoff               "exponential", "linear" or "constant"
//   backoffDelay          a Go duration, 1ms to kMaxDeliveryBackoff; not above maxBackoff
//                         when both are given (maxBackoff caps every delay)
//   maxBackoff            a Go duration, 1ms to kMaxDeliveryBackoff
//   maxEventAge           a Go duration, 1ms to kMaxDeliveryEventAge
//   deadLetterFunctionId  a valid name (that the function exists is the service's check)
// Durations keep the text the client sent, for output.
//
// `authorizerCache` of an event type (spec §6), like deliveryPolicy, refuses unknown
// fields inside it, and is allowed only beside `authorizerId` (400 otherwise). null
// counts as absent. Its fields:
//   ttl   required; a Go duration, 1ms to kMaxAuthorizerCacheTtl, echoed as sent
//   key   optional; 1 to kMaxAuthorizerCacheKeys strings, each "header:<Name>" (an HTTP
//         token) or "query:<name>" (no control characters), the name at most
//         kMaxAuthorizerCacheKeyNameLength bytes. Absent: the Authorization header.
//
// `filters` (spec §3.9), on async subscriptions only like deliveryPolicy, is checked by
// events::Filter::compile (errors name where: `filters[1].all[0]: ...`) and kept as
// written; null counts as absent, `[]` matches every event.
//
// Every stored field has a maximum (model/limits.h); a value over it is kInvalid with a
// message that names the field, e.g. `Field "path" must be at most 2048 bytes long.`

// ^[a-zA-Z0-9.\-_]+$: spaces, function IDs, event type names.
bool isValidName(std::string_view name);

// A space named in a URL: a valid name of at most kMaxNameLength bytes. The error
// (kInvalid) is the API's message.
Status checkSpace(std::string_view space);

// Adds a leading "/" (an empty path becomes "/") and checks the segments against the
// path tree's rules: ":name" parameters, "*name" only as the last segment, no parameter
// name twice, no '?', '#' or control characters. Empty segments ("/a/") are kept: a
// trailing slash is significant, as in the original gateway. The error message names `field`.
// At most kMaxPathLength bytes (with the leading "/") and kMaxPathSegments segments.
Result<std::string> normalizePath(std::string_view path, std::string_view field = "path");

// Upper-cases and checks against GET POST PUT PATCH DELETE HEAD OPTIONS.
Result<std::string> normalizeMethod(std::string_view method, std::string_view field = "method");

// POST /functions. The provider object is only checked to be an object here; the
// provider factory of `type` validates its fields (config::ConfigService does that).
// A body without `type` but with `provider.type` (the oldest API) uses the latter.
Result<Function> functionFromRequest(std::string_view space, const boost::json::value& body);
// PUT /functions/<id>: the ID comes from the URL; a `functionId` in the body is ignored.
Result<Function> functionUpdateFromRequest(std::string_view space, std::string_view functionId,
                                           const boost::json::value& body);

// POST /eventtypes.
Result<EventType> eventTypeFromRequest(std::string_view space, const boost::json::value& body);
// PUT /eventtypes/<name>: the name comes from the URL; a `name` in the body is ignored.
Result<EventType> eventTypeUpdateFromRequest(std::string_view space, std::string_view name,
                                             const boost::json::value& body);

// POST /subscriptions, Gen 1 (has `event`) or Gen 2 (has `type`/`eventType`). The result
// carries its deterministic subscriptionId.
Result<Subscription> subscriptionFromRequest(std::string_view space, const boost::json::value& body);
// PUT /subscriptions/<id>: only `metadata`, `deliveryPolicy` and `filters` may change.
// Identity fields present in the body must equal the existing subscription's (after the
// same normalisation as on create); absent ones keep their value. `metadata`,
// `deliveryPolicy` and `filters` are replaced (absent: removed).
Result<Subscription> subscriptionUpdateFromRequest(const Subscription& existing,
                                                   const boost::json::value& body);

// POST /cors: `method` and `path` required; the rules default as in spec §2.4.
Result<Cors> corsFromRequest(std::string_view space, const boost::json::value& body);
// PUT /cors/<id>: `method`/`path`, when present, must equal the existing ones; the rules
// and metadata are replaced (absent rules take their defaults).
Result<Cors> corsUpdateFromRequest(const Cors& existing, const boost::json::value& body);

// Limits of a delivery policy, shared with the -delivery-* flags. A retry waits at most a
// day; an event is delivered for at most 30 days (what a queue is sized to hold).
inline constexpr int kMaxDeliveryRetries = 1000;
inline constexpr std::chrono::milliseconds kMaxDeliveryBackoff = std::chrono::hours(24);
inline constexpr std::chrono::milliseconds kMaxDeliveryEventAge = std::chrono::hours(30 * 24);

// The longest authorizerCache ttl: a day. A decision is a credential's check; reusing it
// longer would outlive most tokens' own lifetimes.
inline constexpr std::chrono::milliseconds kMaxAuthorizerCacheTtl = std::chrono::hours(24);

// Message prefixes, also used for bodies that are not JSON at all.
inline constexpr std::string_view kFunctionInvalid = "Function doesn't validate. Validation error: ";
inline constexpr std::string_view kEventTypeInvalid = "Event Type doesn't validate. Validation error: ";
inline constexpr std::string_view kSubscriptionInvalid =
    "Subscription doesn't validate. Validation error: ";
inline constexpr std::string_view kCorsInvalid =
    "CORS configuration doesn't validate. Validation error: ";

// The fixed message of a Gen 2 subscription without `type` (the SDK's tests check it).
inline constexpr std::string_view kSubscriptionTypeRequired =
    "Subscription doesn't validate. Validation error: Key: 'Subscription.Type' "
    "Error:Field validation for 'Type' failed on the 'required' tag";

}  // namespace eg::model
