#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include <boost/asio/awaitable.hpp>

#include "common/result.h"
#include "config/service.h"
#include "metrics/metrics.h"
#include "net/http_server.h"
#include "observe/tail.h"
#include "routing/snapshot.h"
#include "store/store.h"

namespace eg::config {

// The HTTP side of the Config API: routes /v1/spaces/<space>/{functions,eventtypes,
// subscriptions,cors}[/<id>], /v1/status, /v1/metrics and /metrics to the service and
// renders JSON; /v1/spaces/<space>/events/tail to the tails (tail_endpoint.h), when
// there is a hub. Unknown paths answer 404, known paths with another method 405 with an
// Allow header; every error body is {"errors":[{"message":"..."}]}. Owns the
// eventgateway_config_* metrics. Thread-safe; service, store and registry outlive it.
class ApiRouter {
 public:
  ApiRouter(ConfigService& service, const store::Store& store, metrics::Registry& metrics,
            observe::TailHub* tails = nullptr);

  // Lists are streamed (net::Reply with a body producer); every other answer is whole.
  boost::asio::awaitable<net::Reply> handle(net::Request& request);

 private:
  ConfigService& service_;
  const store::Store& store_;
  metrics::Registry& metrics_;
  observe::TailHub* tails_;
  metrics::CounterFamily& requests_;
  metrics::Histogram& duration_;
};

// HTTP status of an error kind: kInvalid 400, kNotFound 404, kAlreadyExists/kConflict 409,
// kTooLarge 413, kUnavailable/kTimeout 503, anything else 500.
unsigned httpStatus(ErrorKind kind);

// The CORS ID a URL path segment names. CORS IDs hold an escaped path ("GET%2Ftest")
// and clients put them in URLs as they are, so a segment whose decoding would contain
// '/' is taken raw; otherwise it is decoded once ("GET%252Ftest" -> "GET%2Ftest").
std::string corsIdFromSegment(std::string_view rawSegment);

// eventgateway_{functions,eventtypes,subscriptions}_total{space} gauges, HELP and TYPE
// included, for a metrics::Registry collector.
void renderResourceCounts(std::string& out,
                          const std::map<std::string, routing::SpaceCounts, std::less<>>& counts);

}  // namespace eg::config
