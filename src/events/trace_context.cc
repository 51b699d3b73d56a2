#include "events/trace_context.h"

#include <algorithm>

namespace eg::events {
namespace {

bool lowerHex(std::string_view s) {
  return std::all_of(s.begin(), s.end(),
                     [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

bool allZeros(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == '0'; });
}

bool visibleAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

constexpr std::size_t kVersion00Length = 55;  // 2 + 1 + 32 + 1 + 16 + 1 + 2
constexpr std::size_t kMaxTraceParentLength = 512;

}  // namespace

bool isValidTraceParent(std::string_view v) {
  if (v.size() < kVersion00Length || v.size() > kMaxTraceParentLength) return false;
  if (v[2] != '-' || v[35] != '-' || v[52] != '-') return false;
  const std::string_view version = v.substr(0, 2);
  const std::string_view traceId = v.substr(3, 32);
  const std::string_view parentId = v.substr(36, 16);
  if (!lowerHex(version) || !lowerHex(traceId) || !lowerHex(parentId) ||
      !lowerHex(v.substr(53, 2))) {
    return false;
  }
  if (version == "ff" || allZeros(traceId) || allZeros(parentId)) return false;
  if (v.size() == kVersion00Length) return true;
  // A later version may add fields after a '-'; version 00 may not.
  return version != "00" && v[kVersion00Length] == '-' && visibleAscii(v);
}

TraceContext traceFromRequest(const net::Request& request) {
  TraceContext trace;
  const auto parent = request.find("traceparent");
  if (parent == request.end()) return trace;
  const std::string_view value = parent->value();
  if (!isValidTraceParent(value)) return trace;
  trace.traceparent = value;
  const auto state = request.find("tracestate");
  if (state != request.end()) {
    const std::string_view s = state->value();
    if (!s.empty() && s.size() <= kMaxTraceStateLength && visibleAscii(s)) trace.tracestate = s;
  }
  return trace;
}

void attachTrace(CloudEvent& event, TraceContext trace) {
  if (trace.empty() || event.specVersion != SpecVersion::k10) return;
  if (event.extensions.contains("traceparent")) return;
  event.extensions["traceparent"] = trace.traceparent;
  if (!trace.tracestate.empty()) event.extensions["tracestate"] = trace.tracestate;
}

}  // namespace eg::events
