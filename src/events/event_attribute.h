#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json/value.hpp>

namespace eg::events {

// The value of one attribute of an event, read from the event's JSON as the gateway
// wrote it (either version), by its CloudEvents 1.0 name: a context attribute (`id`,
// `source`, `type`, `subject`, `time`, `dataschema`, `datacontenttype`, `specversion`)
// or an extension's name. A 0.1 event answers through the same names, as filters read
// it (events/filter.h): `id` is its eventID, `type` its eventType, `time` its
// eventTime, `dataschema` its schemaURL, `datacontenttype` its contentType,
// `specversion` its cloudEventsVersion, `subject` and the extensions come from
// `extensions` (and `eventtypeversion` from eventTypeVersion). Strings as they are,
// numbers and booleans as their JSON text; nothing for a missing attribute, an object,
// an array or null, and for text that is not an event. Parses the whole event: for
// the few callers that need one attribute of an event they hold only as text.
std::optional<std::string> attributeOf(std::string_view eventJson, std::string_view name);

// A JSON scalar as filters and sticky keys compare it: a string as it is, a double in
// its shortest form ("42.5", not Boost's "4.25E1", written into `scratch`), other
// numbers and booleans by their JSON text; nothing for objects, arrays and null.
std::optional<std::string_view> scalarText(const boost::json::value& v, std::string& scratch);

}  // namespace eg::events
