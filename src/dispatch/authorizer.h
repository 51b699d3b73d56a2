#pragma once

#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/result.h"
#include "events/cloud_event.h"

namespace eg::dispatch {

// Authorizer functions (spec §3.4). Pure functions, safe on any thread.

// What an authorizer function is called with: {"event": <event>, "request": <request>},
// both already serialized (the event text is the one the subscriber would receive).
std::string authorizerPayload(std::string_view eventJson, std::string_view requestJson);

// Reads an authorizer's result. Success is `{"authorization": {"principalId": "…",
// "context": {<string>: <string>}}}` and yields the object to attach (principalId
// always present, context when given). Everything else is unauthorised (kInvalid):
// `{"error": {"message": "…"}}` (the message is the error's), a result that does not
// parse or has the wrong shape, and a result with neither key.
Result<boost::json::object> parseAuthorizerResult(std::string_view result);

// The 1.0 extension attribute that carries an authorizer's decision, as JSON text.
inline constexpr std::string_view kAuthorizationExtension = "eventgatewayauth";

// Sets extensions.eventgateway.authorization of a 0.1 event, keeping the other
// eventgateway keys; a 1.0 event gets the extension attribute eventgatewayauth holding
// the object's JSON text, as 1.0 extension values cannot be objects.
void attachAuthorization(events::CloudEvent& event, boost::json::object authorization);

// The event's JSON with the authorization attached: the CloudEvent read back from
// `eventJson`, attachAuthorization, serialized again. kInternal when `eventJson` is not
// a CloudEvent (the gateway wrote it, so that is a bug).
// `gatewayBuilt`: the gateway wrote `eventJson` itself (an http.request or Gen 1 event:
// 0.1, its marker in `extensions` ahead of the client's data). Then the authorization
// is spliced into the marker's object without reading the event back: the same bytes,
// at a fraction of the cost (a cached authorizer's hit is otherwise mostly this).
Result<std::string> authorizedPayload(std::string_view eventJson,
                                      boost::json::object authorization,
                                      bool gatewayBuilt = false);

}  // namespace eg::dispatch
