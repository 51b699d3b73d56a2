#pragma once

#include <string>
#include <string_view>

#include "model/resources.h"

namespace eg::model {

// The path escaped as one URL path segment ("/" -> "%2F"), as Go's url.PathEscape.
std::string escapePathSegment(std::string_view path);

// Deterministic subscription IDs (spec §2.3): base64url without padding of
//   async:  "async,<eventType>,<functionId>,<escaped path>,<method>"
//   sync:   "sync,<eventType>,<escaped path>,<method>"
//   invoke: "invoke,<functionId>,<escaped path>"  (Gen 1 invoke subscriptions)
std::string subscriptionId(const Subscription& s);

// "<METHOD><escaped path>", e.g. "GET%2Ftest".
std::string corsId(std::string_view method, std::string_view path);

std::string base64UrlNoPad(std::string_view data);

}  // namespace eg::model
