#include "common/http_syntax.h"

#include <algorithm>
#include <array>

namespace eg {

bool isHttpTokenChar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

bool isHttpToken(std::string_view s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return isHttpTokenChar(static_cast<unsigned char>(c)); });
}

bool isHttpFieldValue(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool isFramingHeader(std::string_view name) {
  static constexpr std::array<std::string_view, 8> kFraming = {
      "content-length", "transfer-encoding", "connection", "keep-alive",
      "upgrade",        "te",                "trailer",    "proxy-connection"};
  auto lowerEquals = [&](std::string_view lower) {
    return lower.size() == name.size() &&
           std::equal(lower.begin(), lower.end(), name.begin(), [](char l, char c) {
             return l == ((c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c);
           });
  };
  return std::any_of(kFraming.begin(), kFraming.end(), lowerEquals);
}

}  // namespace eg
