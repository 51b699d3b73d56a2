#pragma once

#include <string_view>

#include "net/reply.h"

namespace eg::config {

// Whether a Config API path (percent-encoded, without the query) is the console's:
// "/console" or anything under "/console/".
bool isConsolePath(std::string_view path);

// The answer to a request for a console path: GET and HEAD only (405 otherwise);
// "/console" redirects to "/console/"; an asset is 200 with its content type, a strong
// ETag and `Cache-Control: no-cache` (the names do not change with the content, so a
// browser revalidates, and a matching If-None-Match gets 304 without a body); an
// unknown asset 404 with the API's JSON error body. The assets hold no data, so they
// need no access key (AccessGuard lets GET and HEAD of these paths through).
net::Response consoleResponse(const net::Request& request, std::string_view path);

}  // namespace eg::config
