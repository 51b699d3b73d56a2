#pragma once

#include <cstddef>
#include <cstdint>

// The largest value the Config API stores in each field (documented in
// docs/config-api.md, "Bounds"). They keep the memory and the store a resource costs
// proportionate, and are far above what real configurations use: a request over one is
// a 400 naming the field, a body over kMaxConfigBodyBytes a 413. Lengths are in bytes.
namespace eg::model {

// A whole Config API request body. The largest valid resource is well under it.
inline constexpr std::size_t kMaxConfigBodyBytes = 1024 * 1024;

// Spaces, function IDs, event type names, authorizer and dead-letter function IDs.
inline constexpr std::size_t kMaxNameLength = 256;

// Subscription and CORS paths, after a leading "/" is added.
inline constexpr std::size_t kMaxPathLength = 2048;
inline constexpr std::size_t kMaxPathSegments = 64;

inline constexpr std::size_t kMaxMetadataEntries = 64;
inline constexpr std::size_t kMaxMetadataKeyLength = 256;
inline constexpr std::size_t kMaxMetadataValueLength = 1024;

// Each of allowedOrigins, allowedMethods, allowedHeaders (Gen 1: cors.origins, ...).
inline constexpr std::size_t kMaxCorsEntries = 64;
inline constexpr std::size_t kMaxCorsEntryLength = 1024;

// The text of a deliveryPolicy duration ("1m30s").
inline constexpr std::size_t kMaxDurationLength = 64;

// An event type's authorizerCache: the parts of its `key`, and the length of a header
// or query parameter name in one (after "header:" or "query:").
inline constexpr std::size_t kMaxAuthorizerCacheKeys = 8;
inline constexpr std::size_t kMaxAuthorizerCacheKeyNameLength = 256;

// The provider object as JSON, unknown fields included (they are stored as given).
inline constexpr std::size_t kMaxProviderBytes = 64 * 1024;
// Provider URLs: http `url`, awssqs `queueUrl`, AWS `endpoint`. Signed URLs can pass 2 KiB.
inline constexpr std::size_t kMaxUrlLength = 4096;
// Other provider strings: `arn` (AWS allows 2048), stream names, `region`, access keys.
inline constexpr std::size_t kMaxProviderFieldLength = 2048;
// `awsSessionToken` and http header values: tokens, whose size AWS does not fix.
inline constexpr std::size_t kMaxTokenLength = 8192;
// http `headers`: entries, and the length of a header name.
inline constexpr std::size_t kMaxHeaders = 64;
inline constexpr std::size_t kMaxHeaderNameLength = 256;

// A weighted function's `provider.functions` (its targets), and each target's weight.
// A rollout splits traffic among a handful of versions; the weight's range lets a
// share as small as one in a million be given.
inline constexpr std::size_t kMaxWeightedTargets = 100;
inline constexpr std::uint32_t kMaxWeight = 1'000'000;

// A function's `limits` (spec §6): a rate in calls per second, a burst, and calls at once.
inline constexpr int kMaxFunctionRate = 1'000'000;
inline constexpr int kMaxFunctionBurst = 1'000'000;
inline constexpr int kMaxFunctionConcurrency = 100'000;

}  // namespace eg::model
