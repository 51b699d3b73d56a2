#include "common/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <boost/json/basic_parser_impl.hpp>

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

// json::parser's handler (boost/json/detail/handler.hpp), except for doubles: Boost 1.81
// reads some one unit in the last place off ("6e230" as 6.000000000000001e230, written
// back so, and read again as 6e230), so that a document did not read back as it was
// written. Each double is read again from its text with std::from_chars, which rounds
// correctly; and one beyond a double's range (Boost reads infinity, and writes
// `Infinity`) is refused.
class PreciseHandler {
 public:
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();
  using ErrorCode = boost::system::error_code;

  PreciseHandler(unsigned char* temp, std::size_t size) : st(json::storage_ptr(), temp, size) {}

  bool on_document_begin(ErrorCode&) { return true; }
  bool on_document_end(ErrorCode&) { return true; }
  bool on_object_begin(ErrorCode&) { return true; }
  bool on_object_end(std::size_t n, ErrorCode&) { return st.push_object(n), true; }
  bool on_array_begin(ErrorCode&) { return true; }
  bool on_array_end(std::size_t n, ErrorCode&) { return st.push_array(n), true; }
  bool on_key_part(json::string_view s, std::size_t, ErrorCode&) { return st.push_chars(s), true; }
  bool on_key(json::string_view s, std::size_t, ErrorCode&) { return st.push_key(s), true; }
  bool on_string_part(json::string_view s, std::size_t, ErrorCode&) {
    return st.push_chars(s), true;
  }
  bool on_string(json::string_view s, std::size_t, ErrorCode&) { return st.push_string(s), true; }
  bool on_number_part(json::string_view s, ErrorCode&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(std::int64_t i, json::string_view, ErrorCode&) {
    number_.clear();
    return st.push_int64(i), true;
  }
  bool on_uint64(std::uint64_t u, json::string_view, ErrorCode&) {
    number_.clear();
    return st.push_uint64(u), true;
  }
  bool on_double(double d, json::string_view s, ErrorCode& ec) {
    // The whole number: parts come first only when the text came in pieces.
    std::string_view text(s.data(), s.size());
    if (!number_.empty()) text = number_.append(s.data(), s.size());
    double precise = 0;
    const auto [end, err] = std::from_chars(text.data(), text.data() + text.size(), precise);
    number_.clear();
    if (err == std::errc() && end == text.data() + text.size()) d = precise;
    if (!std::isfinite(d)) {
      ec = json::error::exponent_overflow;
      return false;
    }
    return st.push_double(d), true;
  }
  bool on_bool(bool b, ErrorCode&) { return st.push_bool(b), true; }
  bool on_null(ErrorCode&) { return st.push_null(), true; }
  bool on_comment_part(json::string_view, ErrorCode&) { return true; }
  bool on_comment(json::string_view, ErrorCode&) { return true; }

  json::value_stack st;

 private:
  std::string number_;
};

}  // namespace

json::value parseValue(std::string_view text, boost::system::error_code& ec,
                       json::storage_ptr sp, const json::parse_options& options) {
  // As json::parse does it, with the handler above.
  unsigned char temp[BOOST_JSON_STACK_BUFFER_SIZE];
  json::basic_parser<PreciseHandler> p(options, temp, sizeof temp);
  p.handler().st.reset(std::move(sp));
  const std::size_t n = p.write_some(false, text.data(), text.size(), ec);
  if (!ec && n < text.size()) ec = json::error::extra_data;
  if (ec) return nullptr;
  return p.handler().st.release();
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
