#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "common/result.h"
#include "events/cloud_event.h"

namespace eg::events {

// CloudEvents 1.0 (spec §3.8): the JSON format 1.0, the 1.0 spec's checks, and the
// conversions between 0.1 and 1.0 (docs/events-api.md has their table).

inline constexpr std::string_view kSpecVersion10 = "1.0";

// [a-z0-9]{1,20}: what a 1.0 attribute's name may be.
bool isAttributeName(std::string_view name);

// Reads a structured 1.0 event: a JSON object whose `specversion` is "1.0".
// Required: id, source (a URI reference), specversion and type, non-empty strings.
// Optional: datacontenttype (a media type), dataschema (an absolute URI), subject
// (non-empty), time (RFC 3339), and data (any JSON) or data_base64 (base64 text), not
// both. Every other member is an extension attribute: its name [a-z0-9]{1,20}, its value
// a string, number or boolean. null counts as absent. Moves data and the extensions out
// of `object`, on success only. Failure is kInvalid naming the attribute, e.g.
//   CloudEvent doesn't validate: attribute "id" is required.
Result<CloudEvent> fromJsonV1(boost::json::object& object);

// The checks of fromJsonV1 on an event built from parts (binary mode), same messages.
Status validateV1(const CloudEvent& event);

// A structured event of either version: `specversion` present makes it 1.0 (and it must
// be "1.0"), else it is read as 0.1 (fromJson). kInvalid as those give.
Result<CloudEvent> fromStructuredJson(boost::json::value&& value);

// The 1.0 JSON of `event`: specversion, id, source, type, then datacontenttype,
// dataschema, subject and time when set, the extensions in their order, and data (or
// data_base64) when there is data.
std::string serializeV1(const CloudEvent& event);

// Converts `event` to `version` in place; nothing when it is in it already.
// 1.0 -> 0.1: subject becomes extensions.subject, data_base64 the base64 string `data`
// (how 0.1 carries bytes), the rest by name.
// 0.1 -> 1.0: eventTypeVersion becomes the extension `eventtypeversion`; extensions
// whose name is not a 1.0 attribute name, or is a context attribute's, are dropped;
// object and array values become their JSON text; a gateway-built event's base64 data
// of an opaque body becomes data_base64 again.
void convertTo(CloudEvent& event, SpecVersion version);

// The members of a CloudEvents batch (application/cloudevents-batch+json): a JSON array
// of structured 1.0 events. Every member is checked before any is returned; the first
// bad one is kInvalid naming its index, e.g.
//   CloudEvent batch member 2 doesn't validate: attribute "id" is required.
Result<std::vector<CloudEvent>> parseBatch(std::string_view body);

}  // namespace eg::events
