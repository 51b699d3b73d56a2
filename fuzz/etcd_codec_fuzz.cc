// What a broken or hostile etcd may answer (store/etcd_codec.h): the first byte picks
// the reader (a watch stream line, a range or txn response, an error body with its HTTP
// status, base64, a prefix's range end) and the key prefix; the rest is the answer. No
// input may crash, and:
//   - an error is an Error of a kind the store acts on, whose message is valid text in
//     a JSON error body (it may reach a Config API client);
//   - accepted revisions are ones the store can go on from (0 <= r < int64 max, r + 1
//     is computed), every key-value has its mod revision, and a watch message's events
//     come in revision order;
//   - base64 reads back what it wrote; every key under a prefix sorts before its end.

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <string>
#include <string_view>

#include "common/json.h"
#include "store/etcd_codec.h"

namespace {

namespace etcd = eg::store::etcd;
using eg::ErrorKind;

void check(bool ok) {
  if (!ok) std::abort();
}

void checkError(const eg::Error& e) {
  check(e.kind == ErrorKind::kInternal || e.kind == ErrorKind::kUnavailable ||
        e.kind == ErrorKind::kInvalid || e.kind == ErrorKind::kCompacted);
  check(!e.message.empty() && eg::parseJson(eg::errorBody(e.message)).ok());
}

void checkRevision(int64_t r) { check(r >= 0 && r < std::numeric_limits<int64_t>::max()); }

// Every key-value etcd sends was written at some revision.
void checkKeyValue(const eg::store::KeyValue& kv) {
  checkRevision(kv.createRevision);
  checkRevision(kv.modRevision);
  check(kv.modRevision >= 1);
}

template <class T, class Check>
void checkResult(const eg::Result<T>& r, Check checkValue) {
  if (r) {
    checkValue(*r);
  } else {
    checkError(r.error());
  }
}

// A response body: the readers take a JSON object, as the store passes them.
template <class Read>
void withObject(std::string_view text, Read read) {
  auto parsed = eg::parseJson(text);
  if (parsed && parsed->is_object()) read(parsed->as_object());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const uint8_t pick = data[0];
  const std::string_view prefix = pick & 0x80 ? "/eg/" : "";
  const std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (pick % 6) {
    case 0:
      checkResult(etcd::parseWatchLine(rest, prefix), [](const etcd::WatchMessage& m) {
        checkRevision(m.headerRevision);
        checkRevision(m.compactRevision);
        for (size_t i = 0; i < m.events.size(); ++i) {
          checkKeyValue(m.events[i].kv);
          if (i > 0) check(m.events[i - 1].kv.modRevision <= m.events[i].kv.modRevision);
        }
      });
      break;
    case 1:
      withObject(rest, [&](const eg::json::object& o) {
        checkResult(etcd::parseRangeResponse(o, prefix), [](const eg::store::RangeResult& r) {
          checkRevision(r.revision);
          for (const auto& kv : r.kvs) checkKeyValue(kv);
        });
        checkResult(etcd::rangeHasMore(o), [](bool) {});
      });
      break;
    case 2:
      withObject(rest, [](const eg::json::object& o) {
        checkResult(etcd::parseTxnResponse(o),
                    [](const eg::store::TxnResult& r) { checkRevision(r.revision); });
      });
      break;
    case 3:  // the next byte is the HTTP status above 400
      checkError(etcd::errorFromResponse(400u + static_cast<uint8_t>(rest[0]), rest.substr(1)));
      break;
    case 4: {
      const auto decoded = etcd::base64Decode(rest);
      if (decoded) check(etcd::base64Decode(etcd::base64Encode(*decoded)) == decoded);
      check(etcd::base64Decode(etcd::base64Encode(rest)) == std::string(rest));
      break;
    }
    case 5: {
      const std::string end = etcd::prefixEnd(rest);
      if (end != std::string(1, '\0')) {
        check(std::string(rest) < end && std::string(rest) + "\xff\xff\xff" < end);
      }
      break;
    }
  }
  return 0;
}
