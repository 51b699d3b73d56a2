#include "net/simple_response.h"

#include <array>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "net/http_client.h"

namespace eg::net {

namespace {

// Byte classes, looked up instead of tested: the parser touches every byte once.
struct Classes {
  std::array<bool, 256> token{};  // tchar (RFC 9110)
  std::array<bool, 256> text{};   // VCHAR, obs-text, SP, HTAB: reason phrases, values
  constexpr Classes() {
    for (int c = 0; c < 256; ++c) {
      text[c] = c == '\t' || (c >= 0x20 && c != 0x7f);
      token[c] = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    }
    for (char c : std::string_view("!#$%&'*+-.^_`|~")) token[static_cast<unsigned char>(c)] = true;
  }
};
constexpr Classes kClasses;

bool isOws(char c) { return c == ' ' || c == '\t'; }

// The first byte at or after `p` that is not text (or `n`). Values are most of a
// head's bytes, so they are scanned sixteen at a time where SSE2 is there.
std::size_t skipText(const unsigned char* bytes, std::size_t p, std::size_t n) {
#if defined(__SSE2__)
  const __m128i ctl = _mm_set1_epi8(0x1f);
  const __m128i tab = _mm_set1_epi8('\t');
  const __m128i del = _mm_set1_epi8(0x7f);
  for (; p + 16 <= n; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + p));
    const __m128i control = _mm_andnot_si128(_mm_cmpeq_epi8(v, tab),
                                             _mm_cmpeq_epi8(_mm_min_epu8(v, ctl), v));
    const int bad = _mm_movemask_epi8(_mm_or_si128(control, _mm_cmpeq_epi8(v, del)));
    if (bad != 0) return p + static_cast<std::size_t>(__builtin_ctz(static_cast<unsigned>(bad)));
  }
#endif
  while (p < n && kClasses.text[bytes[p]]) ++p;
  return p;
}

// The first byte at or after `p` that is not a token byte (or `n`). Header names are
// mostly letters, digits and '-': those are skipped sixteen at a time, the table
// decides the rest.
std::size_t skipToken(const unsigned char* bytes, std::size_t p, std::size_t n) {
#if defined(__SSE2__)
  for (; p + 16 <= n; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(bytes + p));
    // Signed compares: bytes from 0x80 up are negative and fail every range.
    const __m128i folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
    const __m128i letter = _mm_and_si128(_mm_cmpgt_epi8(folded, _mm_set1_epi8('a' - 1)),
                                         _mm_cmplt_epi8(folded, _mm_set1_epi8('z' + 1)));
    const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(v, _mm_set1_epi8('0' - 1)),
                                        _mm_cmplt_epi8(v, _mm_set1_epi8('9' + 1)));
    const __m128i usual =
        _mm_or_si128(_mm_or_si128(letter, digit), _mm_cmpeq_epi8(v, _mm_set1_epi8('-')));
    const unsigned other = ~static_cast<unsigned>(_mm_movemask_epi8(usual)) & 0xffffu;
    if (other != 0) {
      p += static_cast<std::size_t>(__builtin_ctz(other));
      break;
    }
  }
#endif
  while (p < n && kClasses.token[bytes[p]]) ++p;
  return p;
}

std::uint64_t load8(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// `token` equals `lowered` ignoring case. `lowered` is lower-case letters and '-', of
// at least 8 bytes; `token` holds token bytes only. Setting bit 0x20 lower-cases a
// letter, and no other token byte becomes a lower-case letter or '-' by it, so
// comparing eight bytes at a time (the last eight overlapping) is exact.
bool iequalToken(std::string_view token, std::string_view lowered) {
  if (token.size() != lowered.size()) return false;
  constexpr std::uint64_t kFold = 0x2020202020202020ULL;
  const std::size_t n = token.size();
  for (std::size_t i = 0; i + 8 < n; i += 8) {
    if ((load8(token.data() + i) | kFold) != load8(lowered.data() + i)) return false;
  }
  return (load8(token.data() + n - 8) | kFold) == load8(lowered.data() + n - 8);
}

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

// `lowered` is lower case already.
bool iequal(std::string_view a, std::string_view lowered) {
  if (a.size() != lowered.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lowered[i]) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && isOws(s.front())) s.remove_prefix(1);
  while (!s.empty() && isOws(s.back())) s.remove_suffix(1);
  return s;
}

// The Connection tokens that matter here. False when the value is not a list of tokens
// (empty elements allowed), which Beast refuses as a bad value.
bool readConnection(std::string_view value, bool& close, bool& keepAlive) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    const std::string_view token = trim(value.substr(0, comma));
    for (const char c : token) {
      if (!kClasses.token[static_cast<unsigned char>(c)]) return false;
    }
    if (iequal(token, "close")) close = true;
    if (iequal(token, "keep-alive")) keepAlive = true;
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
  }
  return true;
}

// Offsets into the input rather than string_views: a trivial type, so that the array
// of them costs nothing until a field is stored.
struct Field {
  std::size_t nameAt, nameSize;
  std::size_t valueAt, valueSize;  // trimmed
};

constexpr std::size_t kMaxFields = 32;

}  // namespace

SimpleParse parseSimpleResponse(std::string_view in, std::size_t maxBody,
                                std::size_t maxHeader, ClientResponse& out,
                                std::size_t& consumed, bool& keepAlive) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(in.data());
  const std::size_t n = in.size();
  // Out of input before the head ended: wait, unless the head is already too large.
  const SimpleParse shortInput = n > maxHeader ? SimpleParse::kNotSimple : SimpleParse::kNeedMore;

  // "HTTP/1.x DDD reason\r\n"
  if (n < 13) return shortInput;
  if (in.substr(0, 7) != "HTTP/1." || (in[7] != '0' && in[7] != '1') || in[8] != ' ' ||
      in[12] != ' ') {
    return SimpleParse::kNotSimple;
  }
  const bool http11 = in[7] == '1';
  unsigned code = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (in[i] < '0' || in[i] > '9') return SimpleParse::kNotSimple;
    code = code * 10 + static_cast<unsigned>(in[i] - '0');
  }
  // Interim answers and the statuses without a body are the general parser's.
  if (code < 200 || code > 599 || code == 204 || code == 304) return SimpleParse::kNotSimple;
  std::size_t p = skipText(bytes, 13, n);
  if (p + 1 >= n) return shortInput;
  if (in[p] != '\r' || in[p + 1] != '\n') return SimpleParse::kNotSimple;
  p += 2;
  const std::size_t fieldsStart = p;

  // "name: value\r\n" lines, each scanned once, up to the empty line.
  std::array<Field, kMaxFields> fields;
  std::size_t count = 0;
  bool verbatim = true;  // every line is exactly "name: value\r\n"
  std::uint64_t length = 0;
  bool hasLength = false;
  bool close = false;
  bool keep = false;
  for (;;) {
    if (p > maxHeader) return SimpleParse::kNotSimple;
    if (p + 1 >= n) return shortInput;
    if (in[p] == '\r') {
      if (in[p + 1] != '\n') return SimpleParse::kNotSimple;
      break;
    }
    const std::size_t nameStart = p;
    p = skipToken(bytes, p, n);
    if (p >= n) return shortInput;
    if (p == nameStart || in[p] != ':') return SimpleParse::kNotSimple;  // obs-fold too
    const std::string_view name = in.substr(nameStart, p - nameStart);
    ++p;
    const std::size_t afterColon = p;
    while (p < n && isOws(in[p])) ++p;
    const std::size_t valueStart = p;
    p = skipText(bytes, p, n);
    if (p + 1 >= n) return shortInput;
    if (in[p] != '\r' || in[p + 1] != '\n') return SimpleParse::kNotSimple;
    std::size_t valueEnd = p;
    while (valueEnd > valueStart && isOws(in[valueEnd - 1])) --valueEnd;
    const std::string_view value = in.substr(valueStart, valueEnd - valueStart);
    verbatim = verbatim && valueStart == afterColon + 1 && in[afterColon] == ' ' && valueEnd == p;
    p += 2;

    if (count == kMaxFields) return SimpleParse::kNotSimple;
    fields[count++] = Field{nameStart, name.size(), valueStart, value.size()};
    switch (name.size()) {
      case 14:
        if (iequalToken(name, "content-length")) {
          if (hasLength || value.empty() || value.size() > 18) return SimpleParse::kNotSimple;
          for (char c : value) {
            if (c < '0' || c > '9') return SimpleParse::kNotSimple;
            length = length * 10 + static_cast<std::uint64_t>(c - '0');
          }
          hasLength = true;
        }
        break;
      case 17:
        if (iequalToken(name, "transfer-encoding")) return SimpleParse::kNotSimple;
        break;
      case 10:
      case 16:
        // Beast reads Proxy-Connection as it reads Connection.
        if ((iequalToken(name, "connection") || iequalToken(name, "proxy-connection")) &&
            !readConnection(value, close, keep)) {
          return SimpleParse::kNotSimple;
        }
        break;
      default:
        break;
    }
  }
  const std::size_t fieldsEnd = p;
  const std::size_t bodyStart = p + 2;
  if (bodyStart > maxHeader || !hasLength || length > maxBody) return SimpleParse::kNotSimple;
  if (n - bodyStart < length) return SimpleParse::kNeedMore;

  out.status = code;
  if (verbatim) {
    out.setHeaderLines(in.substr(fieldsStart, fieldsEnd - fieldsStart));
  } else {
    for (std::size_t i = 0; i < count; ++i) {
      const Field& f = fields[i];
      out.addHeader(in.substr(f.nameAt, f.nameSize), in.substr(f.valueAt, f.valueSize));
    }
  }
  out.body.assign(in.data() + bodyStart, static_cast<std::size_t>(length));
  consumed = bodyStart + static_cast<std::size_t>(length);
  keepAlive = http11 ? !close : keep;
  return SimpleParse::kDone;
}

}  // namespace eg::net
