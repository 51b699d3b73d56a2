#pragma once

#include <string_view>

#include "model/resources.h"
#include "net/http_server.h"

namespace eg::dispatch {

// CORS on the Events API (spec §3.5), with the semantics of the Go gateway's CORS
// middleware: a preflight is answered by the gateway itself (200, no body); an actual
// request gets Access-Control-Allow-Origin when its Origin and method are allowed.
// Pure functions, safe on any thread.

// `pattern` matches `origin` case-insensitively; every '*' in the pattern stands for
// any run of characters ("http://*.example.com", and "*" for every origin).
bool originMatches(std::string_view pattern, std::string_view origin);
bool originAllowed(const model::CorsRules& rules, std::string_view origin);

// OPTIONS with an Access-Control-Request-Method header.
bool isPreflight(const net::Request& request);

// A Gen 1 custom event (an `Event` header), or the preflight of one (its
// Access-Control-Request-Headers name `event`): Gen 1 accepted these from any origin.
bool isLegacyEventRequest(const net::Request& request, bool preflight);

// The rules Gen 1 custom events get: every origin, the usual methods, every header.
const model::CorsRules& allowAllRules();

// The gateway's answer to a preflight. Disallowed origin, method or headers: 200 with
// only the Vary header, so the browser refuses the actual request.
net::Response preflightResponse(const model::CorsRules& rules, const net::Request& request);

// Adds Access-Control-Allow-Origin (and -Credentials) and Vary to the response of an
// actual request when its Origin and method are allowed; otherwise only Vary.
void applyCors(const model::CorsRules& rules, const net::Request& request,
               net::Response& response);

}  // namespace eg::dispatch
