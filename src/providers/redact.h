#pragma once

#include <string_view>

#include <boost/json.hpp>

#include "providers/provider.h"

namespace eg::providers {

inline constexpr const char* kRedacted = "***";

// A copy of `provider` fit for logs: each secret field's value becomes "***" (an object
// keeps its keys, e.g. header names, with each value "***"). For a type the registry
// does not know, every value is redacted, since nothing says which ones are safe.
boost::json::object redactedProvider(const ProviderRegistry& registry, std::string_view type,
                                     const boost::json::object& provider);

}  // namespace eg::providers
