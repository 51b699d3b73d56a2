#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "common/result.h"

namespace eg {

namespace json = boost::json;

// json::parse, with two fixes of Boost 1.81's number reading, so that whatever is read
// is written back as valid JSON that reads back the same: doubles are read correctly
// rounded (Boost reads some one unit in the last place off, and writes that), and
// numbers beyond a double's range are refused (error exponent_overflow; Boost reads
// infinity and writes `Infinity`, which no JSON reader accepts). Everything the gateway
// parses, and may write again, comes here.
json::value parseValue(std::string_view text, boost::system::error_code& ec,
                       json::storage_ptr sp = {}, const json::parse_options& options = {});

// Parses a JSON document; the error message names the position ("invalid JSON at
// offset N: ...") so that the client can fix it.
Result<json::value> parseJson(std::string_view text);

// The error body every API answers with: {"errors":[{"message":"..."}]}.
std::string errorBody(std::string_view message);

// The length of the longest prefix of `s` that a JSON string holds as it is: up to the
// first control character, quote, backslash, or byte from 0x7f up (which boost::json
// would escape, or may be part of a multi-byte character).
std::size_t plainPrefix(std::string_view s);

// Whether `s` is valid UTF-8 (RFC 3629: no overlong forms, surrogates or code points
// above U+10FFFF), as JSON text must be and boost::json's parser requires.
bool isValidUtf8(std::string_view s);

// Appends JSON text to a string without building a document, for the documents the
// request path writes. Strings and values come out exactly as boost::json::serialize
// writes them, but that the text is always valid JSON: a byte that is not part of valid
// UTF-8 (boost::json copies those as they are) is written as U+FFFD, as Go's
// encoding/json does. Requests bring such bytes in header values, decoded paths and
// queries, and bodies. The serializer is the thread's own, reused, so that writing
// costs no allocation beyond the string's growth. The caller writes the punctuation
// with raw().
class JsonWriter {
 public:
  explicit JsonWriter(std::string& out) : out_(out) {}

  JsonWriter& raw(std::string_view text) {
    out_.append(text);
    return *this;
  }
  JsonWriter& raw(char c) {
    out_.push_back(c);
    return *this;
  }
  JsonWriter& string(std::string_view s);
  JsonWriter& value(const json::value& v);
  JsonWriter& object(const json::object& o);
  // `"k":`
  JsonWriter& key(std::string_view k) { return string(k).raw(':'); }

 private:
  std::string& out_;
};

}  // namespace eg
