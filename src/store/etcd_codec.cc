#include "store/etcd_codec.h"

#include <array>
#include <charconv>
#include <limits>

namespace eg::store::etcd {

namespace {


// gRPC status codes that mean "try again later", not "this request is wrong".
constexpr int64_t kGrpcInvalidArgument = 3;
constexpr int64_t kGrpcDeadlineExceeded = 4;
// etcd answers a read at a revision it no longer keeps (or does not have yet) with it.
constexpr int64_t kGrpcOutOfRange = 11;
constexpr int64_t kGrpcUnavailable = 14;

// At most `max` bytes of what etcd sent, for an error message: printable ASCII as it is,
// other bytes as \xNN, so that the message is valid text wherever it goes (JSON errors).
std::string excerpt(std::string_view text, std::size_t max = 200) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (const char c : text.substr(0, max)) {
    const auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f) {
      out.push_back(c);
    } else {
      out.append({'\\', 'x', kHex[b >> 4], kHex[b & 15]});
    }
  }
  if (text.size() > max) out.append("...");
  return out;
}

// A bool field; false (the default value, left out) when absent.
Result<bool> boolField(const json::object& object, std::string_view name) {
  const json::value* v = object.if_contains(name);
  if (v == nullptr) return false;
  if (!v->is_bool()) return Error::internal("etcd sent a malformed '" + std::string(name) + "'");
  return v->as_bool();
}

// A watch event's type: PUT (0, the default, left out) or DELETE (1).
Result<WatchEvent::Type> eventType(const json::object& event) {
  const json::value* type = event.if_contains("type");
  if (type == nullptr || (type->is_string() && type->as_string() == "PUT") ||
      (type->is_int64() && type->as_int64() == 0)) {
    return WatchEvent::Type::kPut;
  }
  if ((type->is_string() && type->as_string() == "DELETE") ||
      (type->is_int64() && type->as_int64() == 1)) {
    return WatchEvent::Type::kDelete;
  }
  return Error::internal("etcd sent a watch event of an unknown type");
}

}  // namespace

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

Result<int64_t> revisionField(const json::object& object, std::string_view name) {
  const json::value* v = object.if_contains(name);
  if (v == nullptr) return int64_t{0};
  int64_t n = -1;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_string()) {
    const auto& s = v->as_string();
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size()) n = -1;
  }
  if (n < 0 || n == std::numeric_limits<int64_t>::max()) {
    return Error::internal("etcd sent an invalid '" + std::string(name) + "'");
  }
  return n;
}

Result<std::string> bytesField(const json::object& object, std::string_view name) {
  const json::value* v = object.if_contains(name);
  if (v == nullptr) return std::string();
  if (!v->is_string()) return Error::internal("etcd sent a non-string '" + std::string(name) + "'");
  auto decoded = base64Decode(v->as_string());
  if (!decoded) return Error::internal("etcd sent invalid base64 in '" + std::string(name) + "'");
  return std::move(*decoded);
}

Result<int64_t> headerRevision(const json::object& response) {
  const json::value* header = response.if_contains("header");
  if (header == nullptr) return int64_t{0};
  if (!header->is_object()) return Error::internal("etcd sent a malformed 'header'");
  return revisionField(header->as_object(), "revision");
}

Result<KeyValue> parseKeyValue(const json::object& kv, std::string_view keyPrefix) {
  auto key = bytesField(kv, "key");
  if (!key) return std::move(key).error();
  auto value = bytesField(kv, "value");
  if (!value) return std::move(value).error();
  if (key->compare(0, keyPrefix.size(), keyPrefix) != 0) {
    return Error::internal("etcd returned key outside the prefix: " + excerpt(*key));
  }
  auto created = revisionField(kv, "create_revision");
  if (!created) return std::move(created).error();
  auto modified = revisionField(kv, "mod_revision");
  if (!modified) return std::move(modified).error();
  if (*modified == 0) return Error::internal("etcd sent a key-value without a 'mod_revision'");
  KeyValue out;
  out.key = key->substr(keyPrefix.size());
  out.value = std::move(*value);
  out.createRevision = *created;
  out.modRevision = *modified;
  return out;
}

Result<RangeResult> parseRangeResponse(const json::object& response, std::string_view keyPrefix) {
  auto revision = headerRevision(response);
  if (!revision) return std::move(revision).error();
  RangeResult out;
  out.revision = *revision;
  const json::value* kvs = response.if_contains("kvs");
  if (kvs == nullptr) return out;  // no key: etcd leaves an empty list out
  if (!kvs->is_array()) return Error::internal("etcd sent a malformed 'kvs'");
  out.kvs.reserve(kvs->as_array().size());
  for (const auto& kv : kvs->as_array()) {
    if (!kv.is_object()) return Error::internal("etcd sent a malformed key-value");
    auto parsed = parseKeyValue(kv.as_object(), keyPrefix);
    if (!parsed) return std::move(parsed).error();
    out.kvs.push_back(std::move(*parsed));
  }
  return out;
}

Result<bool> rangeHasMore(const json::object& response) { return boolField(response, "more"); }

Result<TxnResult> parseTxnResponse(const json::object& response) {
  auto revision = headerRevision(response);
  if (!revision) return std::move(revision).error();
  TxnResult out;
  out.revision = *revision;
  auto succeeded = boolField(response, "succeeded");
  if (!succeeded) return std::move(succeeded).error();
  out.succeeded = *succeeded;
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
    if (!body.empty()) message += ": " + excerpt(body);
  }
  if (code == kGrpcUnavailable || code == kGrpcDeadlineExceeded || httpStatus == 503) {
    return Error::unavailable(message);
  }
  if (code == kGrpcInvalidArgument) return Error::invalid(message);
  if (code == kGrpcOutOfRange && message.find("compacted") != std::string::npos) {
    return Error::compacted(message);
  }
  return Error::internal(message);
}

Result<WatchMessage> parseWatchLine(std::string_view line, std::string_view keyPrefix) {
  auto parsed = parseJson(line);
  if (!parsed || !parsed->is_object()) {
    return Error::internal("etcd sent a malformed watch message: " + excerpt(line));
  }
  const auto& root = parsed->as_object();
  if (const auto* error = root.if_contains("error")) {
    std::string message = "etcd watch error";
    int64_t code = -1;
    if (error->is_object()) {
      const auto& e = error->as_object();
      // An empty message would leave the Error saying nothing: keep ours then.
      if (const auto* m = e.if_contains("message");
          m != nullptr && m->is_string() && !m->as_string().empty()) {
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
  auto header = headerRevision(r);
  if (!header) return std::move(header).error();
  msg.headerRevision = *header;
  auto created = boolField(r, "created");
  if (!created) return std::move(created).error();
  msg.created = *created;
  auto canceled = boolField(r, "canceled");
  if (!canceled) return std::move(canceled).error();
  msg.canceled = *canceled;
  auto compact = revisionField(r, "compact_revision");
  if (!compact) return std::move(compact).error();
  msg.compactRevision = *compact;
  if (const auto* reason = r.if_contains("cancel_reason")) {
    if (!reason->is_string()) return Error::internal("etcd sent a malformed 'cancel_reason'");
    msg.cancelReason = reason->as_string();
  }
  if (const auto* events = r.if_contains("events")) {
    if (!events->is_array()) return Error::internal("etcd sent a malformed 'events'");
    for (const auto& e : events->as_array()) {
      if (!e.is_object()) return Error::internal("etcd sent a malformed watch event");
      const auto& eo = e.as_object();
      WatchEvent event;
      auto type = eventType(eo);
      if (!type) return std::move(type).error();
      event.type = *type;
      const auto* kv = eo.if_contains("kv");
      if (kv == nullptr || !kv->is_object())
        return Error::internal("etcd sent an event without kv");
      auto parsedKv = parseKeyValue(kv->as_object(), keyPrefix);
      if (!parsedKv) return std::move(parsedKv).error();
      // The watcher goes on from the last event's revision + 1: out of order, it would
      // skip or repeat changes.
      if (!msg.events.empty() && parsedKv->modRevision < msg.events.back().kv.modRevision) {
        return Error::internal("etcd sent watch events out of revision order");
      }
      event.kv = std::move(*parsedKv);
      msg.events.push_back(std::move(event));
    }
  }
  return msg;
}

}  // namespace eg::store::etcd
