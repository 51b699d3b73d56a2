#include "dispatch/system_events.h"

#include <boost/json.hpp>

#include "common/json.h"
#include "events/cloud_event.h"
#include "events/gateway_event.h"
#include "events/request_to_event.h"

namespace eg::dispatch {

namespace json = boost::json;

namespace {

constexpr std::array<std::string_view, kSystemEventCount> kGen2Names = {
    "eventgateway.event.received", "eventgateway.function.invoking",
    "eventgateway.function.invoked", "eventgateway.function.invocationFailed"};
constexpr std::array<std::string_view, kSystemEventCount> kGen1Names = {
    "gateway.event.received", "gateway.function.invoking", "gateway.function.invoked",
    "gateway.function.invocationFailed"};

void appendQuoted(std::string& out, std::string_view s) {
  out += json::serialize(json::string_view(s.data(), s.size()));
}

std::string functionData(std::string_view space, std::string_view eventJson,
                         std::string_view functionId) {
  std::string out;
  out.reserve(eventJson.size() + space.size() + functionId.size() + 64);
  out += "{\"space\":";
  appendQuoted(out, space);
  out += ",\"event\":";
  out += eventJson;
  out += ",\"functionId\":";
  appendQuoted(out, functionId);
  return out;
}

}  // namespace

std::string_view systemEventType(SystemEvent kind, bool gen1) {
  const auto i = static_cast<std::size_t>(kind);
  return gen1 ? kGen1Names[i] : kGen2Names[i];
}

std::string eventReceivedData(std::string_view eventJson, std::string_view path,
                              std::string_view headersJson) {
  std::string out;
  out.reserve(eventJson.size() + path.size() + headersJson.size() + 40);
  out += "{\"event\":";
  out += eventJson;
  out += ",\"path\":";
  appendQuoted(out, path);
  out += ",\"headers\":";
  out += headersJson;
  out += '}';
  return out;
}

std::string functionInvokingData(std::string_view space, std::string_view eventJson,
                                 std::string_view functionId) {
  std::string out = functionData(space, eventJson, functionId);
  out += '}';
  return out;
}

std::string functionInvokedData(std::string_view space, std::string_view eventJson,
                                std::string_view functionId, std::string_view result) {
  std::string out = functionData(space, eventJson, functionId);
  out += ",\"result\":";
  if (isValidUtf8(result)) {
    appendQuoted(out, result);
  } else {
    appendQuoted(out, events::base64Encode(result));
  }
  out += '}';
  return out;
}

std::string functionInvocationFailedData(std::string_view space, std::string_view eventJson,
                                         std::string_view functionId, std::string_view error) {
  std::string out = functionData(space, eventJson, functionId);
  out += ",\"error\":{\"message\":";
  appendQuoted(out, error);
  out += "}}";
  return out;
}

std::string systemEventJson(std::string_view type, std::string_view dataJson) {
  events::CloudEvent event = events::gatewayEvent(std::string(type));
  event.contentType = "application/json";
  // `data` is written last and null here: splice the prepared text in its place instead
  // of parsing it back into a value.
  constexpr std::string_view kNullData = "\"data\":null}";
  std::string out = events::serialize(event);
  if (out.ends_with(kNullData)) {
    out.resize(out.size() - 5);  // keep `"data":`
    out += dataJson;
    out += '}';
    return out;
  }
  boost::system::error_code ec;
  event.data = parseValue(dataJson, ec);
  return events::serialize(event);
}

bool isValidUtf8(std::string_view text) {
  std::size_t i = 0;
  const std::size_t n = text.size();
  while (i < n) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t len;
    uint32_t cp;
    if ((c & 0xE0) == 0xC0) {
      len = 2;
      cp = c & 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
      len = 3;
      cp = c & 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
      len = 4;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (i + len > n) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto cc = static_cast<unsigned char>(text[i + k]);
      if ((cc & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3F);
    }
    // Overlong forms, surrogates and values beyond Unicode.
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
      return false;
    }
    i += len;
  }
  return true;
}

}  // namespace eg::dispatch
