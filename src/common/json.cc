#include "common/json.h"

#include <algorithm>

namespace eg {

namespace {

json::serializer& threadSerializer() {
  thread_local json::serializer sr;
  return sr;
}

// Serialises whatever `sr` was reset to straight into the spare capacity of `out`.
void drain(json::serializer& sr, std::string& out) {
  while (!sr.done()) {
    const std::size_t used = out.size();
    const std::size_t room = std::max<std::size_t>(out.capacity() - used, 256);
    out.resize(used + room);
    const std::size_t written = sr.read(out.data() + used, room).size();
    out.resize(used + written);
  }
}

// Most strings need no escaping: those are copied as they are.
bool plain(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) return false;
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
