#pragma once

#include <optional>

#include "access/key_store.h"
#include "net/http_server.h"

namespace eg::config {

// Access keys on the Config API (spec §6), checked before routing. With no key store
// every request passes (the API is open, as without -access-keys). Otherwise every
// request but GET /v1/status, GET and HEAD of the console's assets (/console/…, no data in
// them) and the metrics paths under -metrics-open needs
// `Authorization: Bearer <key>`: none, a malformed header or an unknown key answer 401
// with `WWW-Authenticate: Bearer`, a key whose scope does not cover the request 403;
// both with the API's JSON error body. Keys are never logged: a refusal or a use is
// logged at debug level with the key's digest prefix and scope. Thread-safe; the key
// store outlives the guard.
class AccessGuard {
 public:
  AccessGuard(const access::KeyStore* keys, bool metricsOpen)
      : keys_(keys), metricsOpen_(metricsOpen) {}

  // nullopt: let the request through; otherwise the answer to send instead.
  std::optional<net::Response> check(const net::Request& request) const;

 private:
  const access::KeyStore* keys_;
  bool metricsOpen_;
};

}  // namespace eg::config
