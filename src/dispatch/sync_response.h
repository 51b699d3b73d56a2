#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "net/http_server.h"

namespace eg::dispatch {

inline constexpr std::string_view kMalformedResponse = "HTTP response object malformed";
inline constexpr std::string_view kFunctionCallFailed = "Function call failed. Please check logs.";

// What a sync subscriber answers (spec §3.3):
// {"statusCode": <int, default 200>, "headers": {<name>: <string>}, "body": <string>}.
struct FunctionResponse {
  unsigned statusCode = 200;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
};

// Parses a sync subscriber's result the way the Go gateway did: unknown keys are
// ignored, null counts as absent (a bare `null` is an empty 200), anything else that is
// not such an object is kInvalid with kMalformedResponse. The status must be an integer
// in 200..999 (an informational status cannot end a request); header names must be
// tokens and values free of CR, LF and NUL.
Result<FunctionResponse> parseFunctionResponse(std::string_view result);

// The Content-Type Go's net/http would have guessed for a body sent without one:
// HTML, plain UTF-8 text, or application/octet-stream for binary data.
std::string_view sniffContentType(std::string_view body);

// Writes `parsed` into `response` (status, headers, body; a Content-Type is guessed when
// the function gave none and the body is not empty). No framing fields: the server
// frames the response as it writes it.
void writeFunctionResponse(FunctionResponse parsed, net::Response& response);

}  // namespace eg::dispatch
