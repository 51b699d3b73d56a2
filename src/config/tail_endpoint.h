#pragma once

#include <chrono>
#include <memory>
#include <string>

#include <boost/asio/awaitable.hpp>
#include <boost/url/url_view.hpp>

#include "net/reply.h"
#include "observe/tail.h"

namespace eg::config {

// | option    | default | meaning                                                        |
// |-----------|---------|----------------------------------------------------------------|
// | poll      | 100 ms  | how often a tail sends what it gathered, and checks that its   |
// |           |         | client is still there                                          |
// | keepAlive | 15 s    | after this long without an event, a comment line, so that      |
// |           |         | proxies and clients keep the connection                        |
struct TailStreamSettings {
  std::chrono::milliseconds poll{100};
  std::chrono::milliseconds keepAlive{15'000};
};

// GET /v1/spaces/<space>/events/tail (spec §7): the space's observations as
// Server-Sent Events (text/event-stream), one event per observation:
//
//   id: <the tail's sequence number>
//   event: received | delivered | failed | retrying | deadlettered
//   data: <observe::sampleJson>
//
// and, before the events that follow skipped ones, `event: skipped` with
// `data: {"skipped":N,"rate":R,"slow":S}` (no id). Query parameters `type` and
// `function` filter (observe::TailFilter). A 503 when the hub refuses another tail.
// `space` is checked by the caller. The stream ends when the client goes or the hub
// closes; the tail leaves the hub with it.
net::Reply tailReply(const net::Request& request, observe::TailHub& hub, std::string space,
                     const boost::urls::url_view& url, TailStreamSettings settings = {});

// The body of a tail's stream, until the hub closes it or the client leaves.
boost::asio::awaitable<void> writeTail(std::shared_ptr<observe::TailSubscription> tail,
                                       net::BodyWriter& out, TailStreamSettings settings);

}  // namespace eg::config
