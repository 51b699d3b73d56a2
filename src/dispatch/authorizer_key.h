#pragma once

#include <string>
#include <string_view>

#include "model/resources.h"
#include "net/http_server.h"

namespace eg::dispatch {

// The key under which an event type's authorizer decisions are cached (spec §6,
// `authorizerCache.key`): the event type's space and name, its authorizerId, and the
// value of each key part, every piece length-prefixed so that no two different
// requests write the same key ("a" + "bc" is not "ab" + "c").
//
// `header:<Name>` is the request's header, case-insensitively; a header sent more than
// once is its values joined with ", ", as the http.request data writes it (the
// authorizer sees the same text). `query:<name>` is every value of that query
// parameter, in order, decoded as the http.request data's `query` is.
//
// A sync call reads the request at hand; an async delivery reads the http.request JSON
// that the queue kept with the event (parsed here: only for cache-enabled event types).
// A part the request does not have makes no key: the caller calls the authorizer and
// caches nothing, as a missing credential is not one to share a decision for.
class AuthorizerKey {
 public:
  explicit AuthorizerKey(const net::Request& request) : request_(&request) {}
  // "" when the queue kept no request: no key.
  explicit AuthorizerKey(std::string_view requestJson) : requestJson_(requestJson) {}

  // Writes the key of `type`'s decisions (authorizerId and authorizerCache set) for this
  // request into `out`; false (out unspecified) when a key part is missing.
  bool build(const model::EventType& type, std::string& out) const;

 private:
  const net::Request* request_ = nullptr;
  std::string_view requestJson_;
};

}  // namespace eg::dispatch
