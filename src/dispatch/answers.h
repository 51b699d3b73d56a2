#pragma once

#include <chrono>
#include <string_view>

#include <boost/beast/http/status.hpp>

#include "net/http_server.h"

namespace eg::dispatch {

// The Events API's own answers (not a function's): their texts and how they are made.

inline constexpr std::string_view kShuttingDown = "gateway is shutting down";
inline constexpr std::string_view kResourceNotFound = "resource not found";
inline constexpr std::string_view kInvokeNotFound = "function or subscription not found";
inline constexpr std::string_view kSystemEventRefused =
    "system events (types starting with \"eventgateway.\" or \"gateway.\") cannot be emitted";
inline constexpr std::string_view kUnauthorized = "Unauthorized";

// A body-less answer, keeping the request's keep-alive.
net::Response emptyResponse(const net::Request& request, boost::beast::http::status status);
// {"errors":[{"message":...}]} with Content-Type application/json.
net::Response jsonError(const net::Request& request, boost::beast::http::status status,
                        std::string_view message);
// 503 while draining, with Retry-After: 1 (the sender may try again at once, and
// reaches another instance or this one restarted).
net::Response shuttingDown(const net::Request& request);
// 503 for an event the delivery queue refused, with Retry-After: 1.
net::Response queueRefused(const net::Request& request, std::string_view message);
// 429 for a sync call over the function's limits, with Retry-After: `wait` in whole
// seconds, rounded up (at least 1).
net::Response overLimits(const net::Request& request, std::string_view functionId,
                         std::chrono::milliseconds wait);

}  // namespace eg::dispatch
