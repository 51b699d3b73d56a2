#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

namespace eg::dispatch {

// System events (spec §3.6): built by the gateway, routed like any event to async
// subscribers (POST "/"), under both the Gen 2 name ("eventgateway.…") and the Gen 1
// name ("gateway.…"). Pure functions, safe on any thread.
enum class SystemEvent : std::size_t {
  kEventReceived = 0,        // {event, path, headers}
  kFunctionInvoking = 1,     // {space, event, functionId}
  kFunctionInvoked = 2,      // {space, event, functionId, result}
  kFunctionInvocationFailed = 3,  // {space, event, functionId, error}
};
inline constexpr std::size_t kSystemEventCount = 4;

inline constexpr std::string_view kSystemEventPath = "/";
inline constexpr std::string_view kSystemEventMethod = "POST";

// The event type of `kind`: "eventgateway.function.invoked", or with `gen1` the Gen 1
// name "gateway.function.invoked".
std::string_view systemEventType(SystemEvent kind, bool gen1);

// The `data` of each system event as JSON text. `eventJson` is the serialized
// CloudEvent the event is about, embedded as is; `headersJson` is a JSON object.
std::string eventReceivedData(std::string_view eventJson, std::string_view path,
                              std::string_view headersJson);
std::string functionInvokingData(std::string_view space, std::string_view eventJson,
                                 std::string_view functionId);
// `result` is the function's answer: a JSON string holding its text, or its base64 form
// when it is not valid UTF-8.
std::string functionInvokedData(std::string_view space, std::string_view eventJson,
                                std::string_view functionId, std::string_view result);
// `error` becomes {"message": error}.
std::string functionInvocationFailedData(std::string_view space, std::string_view eventJson,
                                         std::string_view functionId, std::string_view error);

// A complete gateway-built CloudEvent (new ID and time, gateway source, contentType
// application/json) of `type` whose data is `dataJson`, as JSON text.
std::string systemEventJson(std::string_view type, std::string_view dataJson);

bool isValidUtf8(std::string_view text);

}  // namespace eg::dispatch
