#include "common/json.h"

#include <algorithm>

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

bool plainByte(unsigned char c) { return c >= 0x20 && c != '"' && c != '\\' && c < 0x7f; }

// Most strings need no escaping: those are copied as they are. Anything that might
// (control characters, quotes, backslashes, bytes from 0x7f up) goes to the serializer.
// Sixteen bytes at a time where SSE2 is there (every x86-64).
bool plain(std::string_view s) {
  const char* p = s.data();
  const char* const end = p + s.size();
#if defined(__SSE2__)
  const __m128i space = _mm_set1_epi8(0x20);
  const __m128i quote = _mm_set1_epi8('"');
  const __m128i backslash = _mm_set1_epi8('\\');
  const __m128i del = _mm_set1_epi8(0x7f);
  for (; end - p >= 16; p += 16) {
    const __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    // Signed: bytes from 0x80 up are negative, so "< 0x20" catches them too.
    const __m128i bad = _mm_or_si128(
        _mm_or_si128(_mm_cmplt_epi8(v, space), _mm_cmpeq_epi8(v, quote)),
        _mm_or_si128(_mm_cmpeq_epi8(v, backslash), _mm_cmpeq_epi8(v, del)));
    if (_mm_movemask_epi8(bad) != 0) return false;
  }
#endif
  for (; p != end; ++p) {
    if (!plainByte(static_cast<unsigned char>(*p))) return false;
  }
  return true;
}

}  // namespace

JsonWriter& JsonWriter::string(std::string_view s) {
  if (plain(s)) {
    out_.push_back('"');
    out_.append(s);
    out_.push_back('"');
    return *this;
  }
  json::serializer& sr = threadSerializer();
  sr.reset(s);
  drain(sr, out_);
  return *this;
}

JsonWriter& JsonWriter::value(const json::value& v) {
  json::serializer& sr = threadSerializer();
  sr.reset(&v);
  drain(sr, out_);
  return *this;
}

JsonWriter& JsonWriter::object(const json::object& o) {
  json::serializer& sr = threadSerializer();
  sr.reset(&o);
  drain(sr, out_);
  return *this;
}

Result<json::value> parseJson(std::string_view text) {
  boost::system::error_code ec;
  json::parse_options options;
  options.max_depth = 64;
  json::value v = json::parse(text, ec, {}, options);
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
