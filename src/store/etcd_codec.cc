#include "store/etcd_codec.h"

#include <array>
#include <charconv>

namespace eg::store::etcd {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<int8_t, 256> makeDecodeTable() {
  std::array<int8_t, 256> table{};
  for (auto& v : table) v = -1;
  for (size_t i = 0; i < kAlphabet.size(); ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
  return table;
}

constexpr auto kDecode = makeDecodeTable();

// gRPC status codes that mean "try again later", not "this request is wrong".
constexpr int64_t kGrpcInvalidArgument = 3;
constexpr int64_t kGrpcDeadlineExceeded = 4;
constexpr int64_t kGrpcUnavailable = 14;

}  // namespace

std::string base64Encode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t n = at(i) << 16 | at(i + 1) << 8 | at(i + 2);
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (bytes.size() - i == 1) {
    uint32_t n = at(i) << 16;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (bytes.size() - i == 2) {
    uint32_t n = at(i) << 16 | at(i + 1) << 8;
    out += kAlphabet[n >> 18];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::string> base64Decode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int8_t v = kDecode[static_cast<unsigned char>(c)];
    if (v < 0) return std::nullopt;
    acc = acc << 6 | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

std::string prefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty() && static_cast<unsigned char>(end.back()) == 0xff) end.pop_back();
  if (end.empty()) return std::string(1, '\0');
  end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
  return end;
}

int64_t int64Field(const json::object& object, std::string_view name) {
  const json::value* v = object.if_contains(name);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  if (v->is_string()) {
    const auto& s = v->as_string();
    int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec == std::errc() && end == s.data() + s.size()) return n;
  }
  return 0;
}

Result<std::string> bytesField(const json::object& object, std::string_view name) {
  const json::value* v = object.if_contains(name);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return Error::internal("etcd sent a non-string '" + std::string(name) + "'");
  auto decoded = base64Decode(v->as_string());
  if (!decoded) return Error::internal("etcd sent invalid base64 in '" + std::string(name) + "'");
  return std::move(*decoded);
}

int64_t headerRevision(const json::object& response) {
  const json::value* header = response.if_contains("header");
  if (header == nullptr || !header->is_object()) return 0;
  return int64Field(header->as_object(), "revision");
}

Result<KeyValue> parseKeyValue(const json::object& kv, std::string_view keyPrefix) {
  auto key = bytesField(kv, "key");
  if (!key) return std::move(key).error();
  auto value = bytesField(kv, "value");
  if (!value) return std::move(value).error();
  if (key->compare(0, keyPrefix.size(), keyPrefix) != 0) {
    return Error::internal("etcd returned key outside the prefix: " + *key);
  }
  KeyValue out;
  out.key = key->substr(keyPrefix.size());
  out.value = std::move(*value);
  out.createRevision = int64Field(kv, "create_revision");
  out.modRevision = int64Field(kv, "mod_revision");
  return out;
}

json::object compareJson(const std::string& key, int64_t modRevision) {
  json::object c;
  c["key"] = base64Encode(key);
  c["result"] = "EQUAL";
  if (modRevision == 0) {
    c["target"] = "CREATE";
    c["create_revision"] = "0";
  } else {
    c["target"] = "MOD";
    c["mod_revision"] = std::to_string(modRevision);
  }
  return c;
}

json::object prefixCompareJson(const std::string& prefix, int64_t revision) {
  // A compare with a range_end holds when it holds for every key in the range (and for
  // an empty range).
  json::object c;
  c["key"] = base64Encode(prefix);
  c["range_end"] = base64Encode(prefixEnd(prefix));
  c["target"] = "MOD";
  c["result"] = "LESS";
  c["mod_revision"] = std::to_string(revision + 1);
  return c;
}

json::object putJson(const std::string& key, const std::string& value) {
  json::object put;
  put["key"] = base64Encode(key);
  put["value"] = base64Encode(value);
  json::object op;
  op["request_put"] = std::move(put);
  return op;
}

json::object deleteJson(const std::string& key) {
  json::object del;
  del["key"] = base64Encode(key);
  json::object op;
  op["request_delete_range"] = std::move(del);
  return op;
}

Error errorFromResponse(unsigned httpStatus, std::string_view body) {
  std::string message;
  int64_t code = -1;
  if (auto parsed = parseJson(body); parsed && parsed->is_object()) {
    const auto& o = parsed->as_object();
    for (const char* field : {"message", "error"}) {
      if (const auto* m = o.if_contains(field); m != nullptr && m->is_string() && message.empty()) {
        message = m->as_string();
      }
    }
    if (o.contains("code")) code = int64Field(o, "code");
  }
  if (message.empty()) {
    message = "etcd answered HTTP " + std::to_string(httpStatus);
    if (!body.empty()) message += ": " + std::string(body.substr(0, 200));
  }
  if (code == kGrpcUnavailable || code == kGrpcDeadlineExceeded || httpStatus == 503) {
    return Error::unavailable(message);
  }
  if (code == kGrpcInvalidArgument) return Error::invalid(message);
  return Error::internal(message);
}

Result<WatchMessage> parseWatchLine(std::string_view line, std::string_view keyPrefix) {
  auto parsed = parseJson(line);
  if (!parsed || !parsed->is_object()) {
    return Error::internal("etcd sent a malformed watch message: " +
                           std::string(line.substr(0, 200)));
  }
  const auto& root = parsed->as_object();
  if (const auto* error = root.if_contains("error")) {
    std::string message = "etcd watch error";
    int64_t code = -1;
    if (error->is_object()) {
      const auto& e = error->as_object();
      if (const auto* m = e.if_contains("message"); m != nullptr && m->is_string()) {
        message = m->as_string();
      }
      code = e.contains("grpc_code") ? int64Field(e, "grpc_code") : int64Field(e, "code");
    }
    if (code == kGrpcInvalidArgument) return Error::invalid(message);
    return Error::unavailable(message);
  }
  const auto* result = root.if_contains("result");
  if (result == nullptr || !result->is_object()) {
    return Error::internal("etcd sent a watch message without a result");
  }
  const auto& r = result->as_object();
  WatchMessage msg;
  msg.headerRevision = headerRevision(r);
  msg.created = r.contains("created") && r.at("created").is_bool() && r.at("created").as_bool();
  msg.canceled = r.contains("canceled") && r.at("canceled").is_bool() && r.at("canceled").as_bool();
  msg.compactRevision = int64Field(r, "compact_revision");
  if (const auto* reason = r.if_contains("cancel_reason"); reason && reason->is_string()) {
    msg.cancelReason = reason->as_string();
  }
  if (const auto* events = r.if_contains("events"); events != nullptr && events->is_array()) {
    for (const auto& e : events->as_array()) {
      if (!e.is_object()) return Error::internal("etcd sent a malformed watch event");
      const auto& eo = e.as_object();
      WatchEvent event;
      if (const auto* type = eo.if_contains("type")) {
        if ((type->is_string() && type->as_string() == "DELETE") ||
            (type->is_int64() && type->as_int64() == 1)) {
          event.type = WatchEvent::Type::kDelete;
        }
      }
      const auto* kv = eo.if_contains("kv");
      if (kv == nullptr || !kv->is_object())
        return Error::internal("etcd sent an event without kv");
      auto parsedKv = parseKeyValue(kv->as_object(), keyPrefix);
      if (!parsedKv) return std::move(parsedKv).error();
      event.kv = std::move(*parsedKv);
      msg.events.push_back(std::move(event));
    }
  }
  return msg;
}

}  // namespace eg::store::etcd
