#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "net/http_server.h"
#include "routing/weighted.h"

namespace eg::dispatch {

// The sticky key of one call of a weighted function (spec §3.10), read only when such
// a function with `stickyBy` is called: a CallKey costs a few pointers to make.
//
// `header:<Name>`: a sync call (sync subscription, Gen 1 invoke, and their authorizers)
// reads the request's header, case-insensitively; a header sent more than once is its
// values joined with ", ", as the http.request event's data writes it. An async
// delivery reads the header from the original request that the queue kept with the
// event (queue::EventData::request): the dispatcher keeps it whenever a subscriber's
// function (or its authorizer) needs it. When the queue holds none (the event was
// queued before the function was given that stickyBy; a system event; a dead letter)
// the header is missing.
// An attribute name: read from the event the function receives (events/event_attribute.h).
// A missing key makes the choice random, by weight.
class CallKey final : public routing::PickKey {
 public:
  // A call made while the request is at hand; `eventJson` is the event's JSON.
  CallKey(const net::Request& request, std::string_view eventJson)
      : request_(&request), eventJson_(eventJson) {}
  // An async delivery: the event's JSON and the original request's http.request JSON
  // ("" when the queue did not keep it).
  CallKey(std::string_view eventJson, std::string_view requestJson)
      : eventJson_(eventJson), requestJson_(requestJson) {}

  std::optional<std::string_view> value(const providers::StickyBy& by) const override;

 private:
  const net::Request* request_ = nullptr;
  std::string_view eventJson_;
  std::string_view requestJson_;
  mutable std::string scratch_;
};

// Whether calls of `function` read a header of the original request, so that its async
// deliveries need the request kept with the queued event.
bool needsRequestHeaders(const routing::FunctionEntry* function);

}  // namespace eg::dispatch
