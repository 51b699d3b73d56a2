#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/result.h"

namespace eg {

namespace json = boost::json;

// Parses a JSON document; the error message names the position ("invalid JSON at
// offset N: ...") so that the client can fix it.
Result<json::value> parseJson(std::string_view text);

// The error body every API answers with: {"errors":[{"message":"..."}]}.
std::string errorBody(std::string_view message);

}  // namespace eg
