#include "common/json.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace eg {

namespace {

json::serializer& threadSerializer() {
  thread_local json::serializer sr;
  return sr;
}

// Appends whatever `sr` was reset to, through a buffer on the stack (resizing `out`
// to write into it directly would zero-fill the room first).
void drain(json::serializer& sr, std::string& out) {
  char chunk[1024];
  while (!sr.done()) {
    const std::string_view written = sr.read(chunk, sizeof chunk);
    out.append(written.data(), written.size());
  }
}

#if defined(__SSE2__)
// The bytes among the 16 at `p` that need escaping, as a bit mask.
unsigned escapedMask(const char* p) {
  const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  // Signed: bytes from 0x80 up are negative, so "< 0x20" catches them too.
  const __m128i bad = _mm_or_si128(
      _mm_or_si128(_mm_cmplt_epi8(v, _mm_set1_epi8(0x20)), _mm_cmpeq_epi8(v, _mm_set1_epi8('"'))),
      _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('\\')), _mm_cmpeq_epi8(v, _mm_set1_epi8(0x7f))));
  return static_cast<unsigned>(_mm_movemask_epi8(bad));
}
#endif

// Sixteen bytes at a time where SSE2 is there (every x86-64): the last sixteen overlap
// the ones before, and a shorter string is checked in a padded copy. Inline here, so
// that JsonWriter::string does not pay a call.
inline std::size_t plainPrefixOf(std::string_view s) {
  const std::size_t n = s.size();
#if defined(__SSE2__)
  std::size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    if (const unsigned mask = escapedMask(s.data() + i); mask != 0) {
      return i + static_cast<std::size_t>(__builtin_ctz(mask));
    }
  }
  if (i == n) return n;
  unsigned mask = 0;
  if (n >= 16) {
    // The last sixteen bytes, less those checked already.
    mask = escapedMask(s.data() + n - 16) >> (i - (n - 16));
  } else {
    char padded[16];
    std::memset(padded, 'a', sizeof padded);
    std::memcpy(padded, s.data(), n);
    mask = escapedMask(padded);
  }
  return mask != 0 ? i + static_cast<std::size_t>(__builtin_ctz(mask)) : n;
#else
  for (std::size_t j = 0; j < n; ++j) {
    const auto b = static_cast<unsigned char>(s[j]);
    if (b < 0x20 || b == '"' || b == '\\' || b >= 0x7f) return j;
  }
  return n;
#endif
}

// The length of the valid UTF-8 sequence (RFC 3629) at the start of `s`, or 0: no
// overlong forms, no surrogates, nothing above U+10FFFF, as boost::json reads it.
std::size_t sequenceLength(std::string_view s) {
  const auto byte = [&s](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const unsigned char b = byte(0);
  if (b < 0x80) return 1;
  std::size_t length = 0;
  unsigned char low = 0x80;  // the range of the second byte
  unsigned char high = 0xbf;
  if (b >= 0xc2 && b <= 0xdf) {
    length = 2;
  } else if (b >= 0xe0 && b <= 0xef) {
    length = 3;
    if (b == 0xe0) low = 0xa0;
    if (b == 0xed) high = 0x9f;
  } else if (b >= 0xf0 && b <= 0xf4) {
    length = 4;
    if (b == 0xf0) low = 0x90;
    if (b == 0xf4) high = 0x8f;
  } else {
    return 0;
  }
  if (s.size() < length || byte(1) < low || byte(1) > high) return 0;
  for (std::size_t i = 2; i < length; ++i) {
    if (byte(i) < 0x80 || byte(i) > 0xbf) return 0;
  }
  return length;
}

// The offset of the first byte of `s` that is not part of valid UTF-8, or s.size().
std::size_t validUtf8Prefix(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    // ASCII eight bytes at a time: the usual text has no other byte.
    if (s.size() - i >= 8) {
      std::uint64_t word;
      std::memcpy(&word, s.data() + i, sizeof word);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    const std::size_t n = sequenceLength(s.substr(i));
    if (n == 0) return i;
    i += n;
  }
  return s.size();
}

// `s` with each byte that is not part of valid UTF-8 replaced by U+FFFD, as Go's
// encoding/json writes it (the Go gateway's functions saw that).
std::string mended(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 8);
  while (!s.empty()) {
    const std::size_t good = validUtf8Prefix(s);
    out.append(s.substr(0, good));
    if (good == s.size()) break;
    out.append("\xef\xbf\xbd");  // U+FFFD
    s.remove_prefix(good + 1);
  }
  return out;
}

// Mends what the serializer wrote from `at` on. JSON's own syntax is ASCII: bytes that
// are not valid UTF-8 can only be in strings, where U+FFFD takes their place.
void mendFrom(std::string& out, std::size_t at) {
  const std::string_view written = std::string_view(out).substr(at);
  if (validUtf8Prefix(written) == written.size()) return;
  std::string fixed = mended(written);
  out.replace(at, std::string::npos, fixed);
}

}  // namespace

std::size_t plainPrefix(std::string_view s) { return plainPrefixOf(s); }

bool isValidUtf8(std::string_view s) { return validUtf8Prefix(s) == s.size(); }

JsonWriter& JsonWriter::string(std::string_view s) {
  // Most strings need no escaping: those are copied as they are, the rest goes to the
  // serializer.
  if (plainPrefixOf(s) == s.size()) {
    // Room for the quoted string in one call, then the string between the quotes.
    const std::size_t at = out_.size();
    out_.append(s.size() + 2, '"');
    if (!s.empty()) std::memcpy(out_.data() + at + 1, s.data(), s.size());
    return *this;
  }
  const std::size_t at = out_.size();
  json::serializer& sr = threadSerializer();
  sr.reset(s);
  drain(sr, out_);
  mendFrom(out_, at);
  return *this;
}

JsonWriter& JsonWriter::value(const json::value& v) {
  const std::size_t at = out_.size();
  json::serializer& sr = threadSerializer();
  sr.reset(&v);
  drain(sr, out_);
  mendFrom(out_, at);
  return *this;
}

JsonWriter& JsonWriter::object(const json::object& o) {
  const std::size_t at = out_.size();
  json::serializer& sr = threadSerializer();
  sr.reset(&o);
  drain(sr, out_);
  mendFrom(out_, at);
  return *this;
}

namespace {

bool finite(const json::value& v) {
  switch (v.kind()) {
    case json::kind::double_:
      return std::isfinite(v.get_double());
    case json::kind::array:
      return std::all_of(v.get_array().begin(), v.get_array().end(),
                         [](const json::value& e) { return finite(e); });
    case json::kind::object:
      return std::all_of(v.get_object().begin(), v.get_object().end(),
                         [](const json::key_value_pair& e) { return finite(e.value()); });
    default:
      return true;
  }
}

}  // namespace

json::value parseValue(std::string_view text, boost::system::error_code& ec,
                       json::storage_ptr sp, const json::parse_options& options) {
  json::value v = json::parse(text, ec, std::move(sp), options);
  if (!ec && !finite(v)) {
    ec = json::error::exponent_overflow;
    return nullptr;
  }
  return v;
}

Result<json::value> parseJson(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  json::value v = parseValue(text, ec, {}, options);
  if (ec) {
    return Error::invalid("request body is not valid JSON: " + ec.message());
  }
  return v;
}

std::string errorBody(std::string_view message) {
  json::object error;
  error["message"] = message;
  json::array errors;
  errors.emplace_back(std::move(error));
  json::object body;
  body["errors"] = std::move(errors);
  return json::serialize(body);
}

}  // namespace eg
