#include "model/ids.h"

namespace eg::model {
namespace {

// Go's url.PathEscape: letters, digits, "-_.~" and "$&+:=@" stay; everything else
// (including '/', ',', ';' and '*') is percent-encoded.
bool keepInSegment(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '_': case '.': case '~':
    case '$': case '&': case '+': case ':': case '=': case '@':
      return true;
    default:
      return false;
  }
}

}  // namespace

std::string escapePathSegment(std::string_view path) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(path.size() + 8);
  for (unsigned char c : path) {
    if (keepInSegment(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string base64UrlNoPad(std::string_view data) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((data.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    const uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8) | uint8_t(data[i + 2]);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
    out.push_back(kAlphabet[n & 63]);
  }
  const std::size_t rest = data.size() - i;
  if (rest == 1) {
    const uint32_t n = uint8_t(data[i]) << 16;
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
  } else if (rest == 2) {
    const uint32_t n = (uint8_t(data[i]) << 16) | (uint8_t(data[i + 1]) << 8);
    out.push_back(kAlphabet[(n >> 18) & 63]);
    out.push_back(kAlphabet[(n >> 12) & 63]);
    out.push_back(kAlphabet[(n >> 6) & 63]);
  }
  return out;
}

std::string subscriptionId(const Subscription& s) {
  std::string raw;
  switch (s.type) {
    case SubscriptionType::kAsync:
      raw = "async," + s.eventType + "," + s.functionId + "," + escapePathSegment(s.path) + "," + s.method;
      break;
    case SubscriptionType::kSync:
      raw = "sync," + s.eventType + "," + escapePathSegment(s.path) + "," + s.method;
      break;
    case SubscriptionType::kInvoke:
      raw = "invoke," + s.functionId + "," + escapePathSegment(s.path);
      break;
  }
  return base64UrlNoPad(raw);
}

std::string corsId(std::string_view method, std::string_view path) {
  return std::string(method) + escapePathSegment(path);
}

}  // namespace eg::model
