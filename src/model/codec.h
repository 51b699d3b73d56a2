#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/result.h"
#include "model/resources.h"

namespace eg::model {

// Stored form: one JSON document per resource with every field (including the
// subscription's generation). Decoding a stored value never trusts it blindly:
// a value that does not decode is an error the caller logs and skips.
std::string encodeStored(const Function& f);
std::string encodeStored(const EventType& e);
std::string encodeStored(const Subscription& s);
std::string encodeStored(const Cors& c);
Result<Function> decodeStoredFunction(std::string_view value);
Result<EventType> decodeStoredEventType(std::string_view value);
Result<Subscription> decodeStoredSubscription(std::string_view value);
Result<Cors> decodeStoredCors(std::string_view value);

// API output shape (spec §2): absent optional fields are omitted, never null.
// Subscriptions come out in the shape of their generation.
boost::json::object toJson(const Function& f);
boost::json::object toJson(const EventType& e);
boost::json::object toJson(const Subscription& s);
boost::json::object toJson(const Cors& c);

// The API text of a delivery policy's backoff: "exponential", "linear", "constant".
const char* backoffName(Backoff b);
std::optional<Backoff> parseBackoff(std::string_view name);

}  // namespace eg::model
