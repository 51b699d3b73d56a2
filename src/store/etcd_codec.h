#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/base64.h"
#include "common/result.h"
#include "store/store.h"

// The JSON of etcd v3's HTTP gateway: bytes travel as base64, int64 as decimal strings,
// fields with default values (0, false, empty) are left out.
namespace eg::store::etcd {

using eg::base64Decode;
using eg::base64Encode;

// The end of the range of every key starting with `prefix`: the prefix with trailing 0xff
// bytes dropped and its last byte incremented; "\0" (every key) when nothing is left.
std::string prefixEnd(std::string_view prefix);

// The readers below take answers that a broken or hostile server may have made up: any
// input yields a value or an Error, never a crash. A malformed answer (a missing or
// mistyped field, a revision etcd cannot have) is kInternal, "etcd sent ...", rather
// than a default; an Error quotes the answer only as printable ASCII (it may reach an
// API client).

// An int64 field given as a string or a number; 0 when absent or malformed.
int64_t int64Field(const json::object& object, std::string_view name);
// A revision (header.revision, create_revision, mod_revision, compact_revision) given as a
// string or a number; 0 when absent. etcd's revisions are int64s from 1 up, and callers
// go on from revision + 1: a negative one, one beyond int64 or at its maximum, or one
// that is not an integer is an error.
Result<int64_t> revisionField(const json::object& object, std::string_view name);
// A base64 field decoded; empty when absent.
Result<std::string> bytesField(const json::object& object, std::string_view name);
// header.revision of a response.
Result<int64_t> headerRevision(const json::object& response);

// A key-value as etcd sends it, with `keyPrefix` removed from its key.
Result<KeyValue> parseKeyValue(const json::object& kv, std::string_view keyPrefix);

// The answers to a range request (its kvs with `keyPrefix` removed) and to a txn.
Result<RangeResult> parseRangeResponse(const json::object& response, std::string_view keyPrefix);
Result<TxnResult> parseTxnResponse(const json::object& response);
// Whether a range request with a `limit` left keys out ("more"; false when absent).
Result<bool> rangeHasMore(const json::object& response);

// A compare that holds when the key's mod revision is `modRevision` (0: the key is absent).
json::object compareJson(const std::string& key, int64_t modRevision);
// A compare that holds when no key under `prefix` has a mod revision above `revision`.
json::object prefixCompareJson(const std::string& prefix, int64_t revision);
json::object putJson(const std::string& key, const std::string& value);
json::object deleteJson(const std::string& key);

// etcd's error body ({"error","message","code"}) as an Error: gRPC Unavailable and
// DeadlineExceeded are kUnavailable, InvalidArgument kInvalid, OutOfRange for a
// compacted revision kCompacted, the rest kInternal.
Error errorFromResponse(unsigned httpStatus, std::string_view body);

// One message of a watch stream.
struct WatchMessage {
  bool created = false;
  bool canceled = false;
  int64_t compactRevision = 0;
  int64_t headerRevision = 0;
  std::string cancelReason;
  std::vector<WatchEvent> events;
};
// A line of the stream: {"result":{...}} or {"error":{...}}; the error is an Error. The
// events of one message come in revision order (a message that says otherwise is an error).
Result<WatchMessage> parseWatchLine(std::string_view line, std::string_view keyPrefix);

}  // namespace eg::store::etcd
