#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/result.h"
#include "net/http_client.h"

// Checks shared by the provider factories. Every error is kInvalid and names the field
// as the client wrote it (`provider.<field>`); none quotes a field's value, because a
// value may be a secret.
namespace eg::providers::fields {

// `Missing required field "<name>" in provider.` when absent or null; a non-empty
// string of at most `maxLength` bytes (model/limits.h) otherwise.
Result<std::string> requiredString(const boost::json::object& provider, std::string_view name,
                                   std::size_t maxLength);

// Absent, null and "" all mean "not given" (what the original gateway did with its
// string fields); any other non-string, or one over `maxLength` bytes, is an error.
Result<std::optional<std::string>> optionalString(const boost::json::object& provider,
                                                  std::string_view name, std::size_t maxLength);

// An absolute http or https URL of at most model::kMaxUrlLength bytes, parsed once.
Result<net::Url> requiredUrl(const boost::json::object& provider, std::string_view name);
Result<std::optional<net::Url>> optionalUrl(const boost::json::object& provider,
                                            std::string_view name);

// A positive whole number of milliseconds, at most kMaxMilliseconds; `fallback` when
// absent or null.
inline constexpr std::int64_t kMaxMilliseconds = 3'600'000;
Result<std::chrono::milliseconds> optionalMilliseconds(const boost::json::object& provider,
                                                       std::string_view name,
                                                       std::chrono::milliseconds fallback);

// RFC 9110 token characters, the only ones allowed in a header name.
bool isHeaderName(std::string_view name);
// No CR, LF or NUL: a value that could not split or truncate the request head.
bool isHeaderValue(std::string_view value);

}  // namespace eg::providers::fields
