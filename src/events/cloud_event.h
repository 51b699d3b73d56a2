#pragma once

#include <optional>
#include <string>

#include <boost/json.hpp>

#include "common/result.h"

namespace eg::events {

// CloudEvents v0.1 (spec §3.1).
struct CloudEvent {
  std::string eventType;
  std::optional<std::string> eventTypeVersion;
  std::string cloudEventsVersion = "0.1";
  std::string source;
  std::string eventID;
  std::optional<std::string> eventTime;  // RFC 3339
  std::optional<std::string> schemaURL;
  std::optional<std::string> contentType;
  boost::json::object extensions;  // omitted from JSON when empty
  boost::json::value data;         // null when absent
};

boost::json::object toJson(const CloudEvent& event);
std::string serialize(const CloudEvent& event);

// Validates a structured CloudEvent (a JSON object). kInvalid with a message naming
// the attribute, e.g. `CloudEvent attribute "eventID" is required.`
Result<CloudEvent> fromJson(const boost::json::value& value);

}  // namespace eg::events
