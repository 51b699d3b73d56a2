// The JSON reader and writer: whatever parseJson accepts, JsonWriter writes exactly as
// boost::json::serialize does, and the text written reads back as the same value; and
// plainPrefix stops exactly at the first byte that a JSON string would escape.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "common/json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = eg::parseJson(text);
  if (!parsed) return 0;
  std::string written;
  eg::JsonWriter(written).value(*parsed);
  if (written != eg::json::serialize(*parsed)) std::abort();
  auto again = eg::parseJson(written);
  if (!again || *again != *parsed) std::abort();
  // plainPrefix stops at the first byte a JSON string cannot hold as it is.
  const std::size_t plain = eg::plainPrefix(text);
  if (plain > text.size()) std::abort();
  for (std::size_t i = 0; i < plain; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\') std::abort();
  }
  if (plain < text.size()) {
    const auto c = static_cast<unsigned char>(text[plain]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') std::abort();
  }
  return 0;
}
