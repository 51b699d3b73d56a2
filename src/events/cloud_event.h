#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/result.h"

namespace eg::events {

// The CloudEvents version an event arrived in, and is written in (spec §3.1, §3.8).
enum class SpecVersion : unsigned char { k01, k10 };

// A CloudEvent of either version, held under the 0.1 attribute names (spec §3.1); a
// 1.0 event maps onto them by the 1.0 spec's names (type -> eventType, id -> eventID,
// time -> eventTime, dataschema -> schemaURL, datacontenttype -> contentType, its
// extension attributes -> `extensions`), plus `subject` and `dataBase64`, which only 1.0
// has. events/cloud_event_v1.h reads and writes the 1.0 form; serialize writes the
// version in `specVersion`.
struct CloudEvent {
  SpecVersion specVersion = SpecVersion::k01;
  std::string eventType;
  std::optional<std::string> eventTypeVersion;
  std::string cloudEventsVersion = "0.1";
  std::string source;
  std::string eventID;
  std::optional<std::string> eventTime;  // RFC 3339
  std::optional<std::string> schemaURL;
  std::optional<std::string> contentType;
  boost::json::object extensions;  // omitted from JSON when empty (and not `marked`)
  // Events the gateway builds (gatewayEvent) carry its marker,
  // extensions.eventgateway = {"transformed":"true","transformation-version":"0.1"}.
  // It stays this flag, not an object in `extensions`, until something writes into
  // extensions.eventgateway (unmark), so that building an event allocates no JSON.
  // serialize and toJson write it as if it were in `extensions`; allExtensions reads
  // both.
  bool marked = false;
  boost::json::value data;         // null when absent
  // 1.0 only: `subject`; and data that is bytes, held as its base64 text in `data`
  // (written as data_base64).
  std::optional<std::string> subject;
  bool dataBase64 = false;
};

// `extensions` with the marker of a `marked` event in it, first: the JSON form's.
boost::json::object allExtensions(const CloudEvent& event);
// Moves the marker of a `marked` event into `extensions` (before writing into
// extensions.eventgateway); does nothing otherwise.
void unmark(CloudEvent& event);

// The JSON form (a 1.0 event: serializeV1's, parsed), for 0.1 attributes in the order eventType, eventTypeVersion?,
// cloudEventsVersion, source, eventID, eventTime?, schemaURL?, contentType?,
// extensions? (omitted when empty), data (always present, null when absent).
// toJson copies `data`; prefer serialize when only the text is needed.
boost::json::object toJson(const CloudEvent& event);
// The event's JSON in its own version: for 0.1 the document toJson builds, written
// straight into a string without building an object; for 1.0 serializeV1's.
std::string serialize(const CloudEvent& event);

// Validates a structured CloudEvent v0.1. The value must be an object with the string
// attributes eventType, cloudEventsVersion, source (a URI reference) and eventID (all
// non-empty); eventTypeVersion, eventTime (RFC 3339), schemaURL and contentType are
// optional strings, extensions an optional object, data any JSON; null counts as
// absent and unknown attributes are ignored. Failure is kInvalid with a message that
// names the attribute, e.g.
//   CloudEvent doesn't validate: attribute "eventID" is required.
//   CloudEvent doesn't validate: attribute "source" must be a string.
Result<CloudEvent> fromJson(const boost::json::value& value);
// As above, moving `data` and `extensions` out of `value` instead of copying them;
// only on success: a failed check leaves `value` untouched.
Result<CloudEvent> fromJson(boost::json::value&& value);

// The checks of fromJson on an event built from parts (binary mode): required
// attributes non-empty, source a URI reference, eventTime RFC 3339. Same messages.
Status validate(const CloudEvent& event);

// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)` with calendar ranges checked ('t' and 'z'
// may be lower case, as RFC 3339 allows).
bool isRfc3339(std::string_view text);
// A non-empty URI reference (RFC 3986): "/mysource" and "https://example.com/a" both are.
bool isUriReference(std::string_view text);

}  // namespace eg::events
