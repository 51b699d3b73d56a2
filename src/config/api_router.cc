#include "config/api_router.h"

#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include "common/call_on.h"
#include "common/json.h"
#include "config/console_route.h"
#include "config/tail_endpoint.h"
#include "model/codec.h"
#include "model/validation.h"

namespace eg::config {
namespace {

namespace http = boost::beast::http;
using net::Request;
using net::Response;

enum class Collection { kFunctions, kEventTypes, kSubscriptions, kCors };

struct CollectionInfo {
  Collection collection;
  const char* resource;  // metrics label, as the original gateway
  const char* listKey;   // key of the list response
  std::string_view invalidPrefix;
};

std::optional<CollectionInfo> collectionOf(std::string_view name) {
  if (name == "functions") {
    return CollectionInfo{Collection::kFunctions, "function", "functions", model::kFunctionInvalid};
  }
  if (name == "eventtypes") {
    return CollectionInfo{Collection::kEventTypes, "eventtype", "eventTypes", model::kEventTypeInvalid};
  }
  if (name == "subscriptions") {
    return CollectionInfo{Collection::kSubscriptions, "subscription", "subscriptions",
                          model::kSubscriptionInvalid};
  }
  if (name == "cors") return CollectionInfo{Collection::kCors, "cors", "cors", model::kCorsInvalid};
  return std::nullopt;
}

Response baseResponse(const Request& request, http::status status) {
  Response res{status, request.version()};
  res.keep_alive(request.keep_alive());
  return res;
}

Response jsonResponse(const Request& request, http::status status, std::string body) {
  auto res = baseResponse(request, status);
  res.set(http::field::content_type, "application/json");
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

Response errorResponse(const Request& request, unsigned status, std::string_view message) {
  return jsonResponse(request, static_cast<http::status>(status), errorBody(message));
}

Response errorResponse(const Request& request, const Error& e) {
  return errorResponse(request, httpStatus(e.kind), e.message);
}

Response methodNotAllowed(const Request& request, std::string_view allow) {
  auto res = errorResponse(request, 405, "Method " + std::string(request.method_string()) +
                                             " is not allowed here; allowed: " + std::string(allow) + ".");
  res.set(http::field::allow, allow);
  return res;
}

template <class T>
Response objectResponse(const Request& request, http::status status, const T& resource) {
  return jsonResponse(request, status, boost::json::serialize(model::toJson(resource)));
}

template <class T>
Response resultResponse(const Request& request, http::status status, const Result<T>& r) {
  if (!r) return errorResponse(request, r.error());
  return objectResponse(request, status, *r);
}

// A list is written in pieces of about this size: a piece is worth its system call.
constexpr std::size_t kListPieceBytes = 16 * 1024;

// `{"<key>":[...]}`, exactly as boost::json::serialize writes it, one piece at a time.
template <class T>
class ListEncoder {
 public:
  ListEncoder(ResourceList<T> items, const char* key) : items_(std::move(items)), key_(key) {}

  bool finished() const { return finished_; }

  // The next piece: at least kListPieceBytes, unless it is the last one.
  std::string next() {
    std::string piece;
    piece.reserve(kListPieceBytes + kListPieceBytes / 2);
    JsonWriter json(piece);
    if (!opened_) {
      json.raw('{').key(key_).raw('[');
      opened_ = true;
    }
    while (!items_.done() && piece.size() < kListPieceBytes) {
      if (auto item = items_.take()) {
        if (!first_) json.raw(',');
        first_ = false;
        json.object(model::toJson(*item));
      }
    }
    if (items_.done()) {
      json.raw("]}");
      finished_ = true;
    }
    return piece;
  }

 private:
  ResourceList<T> items_;
  const char* key_;
  bool opened_ = false;
  bool first_ = true;
  bool finished_ = false;
};

// Writes a list: each piece is encoded on `bulk` (a thread below the I/O threads'
// priority, so that on a shared core routing preempts a list), then written from here.
// The I/O thread only sends: encoding 64 KiB pieces on it held it 2.5 ms and raised
// routing p99 2.5x while lists ran.
template <class T>
asio::awaitable<void> writeList(std::shared_ptr<ListEncoder<T>> encoder, BackgroundThread& bulk,
                                net::BodyWriter& out) {
  using Piece = Result<std::string>;
  while (!encoder->finished()) {
    // Not a lambda inside the co_await expression: g++ 12 destroys such a temporary twice.
    auto encoding = callOn<Piece>(bulk.context(), [encoder]() -> Piece { return encoder->next(); });
    auto piece = co_await std::move(encoding);
    if (!piece) throw std::runtime_error(piece.error().message);
    if (!co_await out.write(*piece)) co_return;
  }
}

// 200 with the list streamed (net::Reply); a failed read is answered whole, as before.
template <class T>
net::Reply listReply(const Request& request, const char* key, BackgroundThread& bulk,
                     Result<ResourceList<T>> r) {
  if (!r) return errorResponse(request, r.error());
  auto head = baseResponse(request, http::status::ok);
  head.set(http::field::content_type, "application/json");
  auto encoder = std::make_shared<ListEncoder<T>>(std::move(*r), key);
  return net::Reply(std::move(head), [encoder, &bulk](net::BodyWriter& out) {
    return writeList(encoder, bulk, out);
  });
}

// A streamed body observed by the duration histogram once it is written, so that a list
// counts its encoding as it did when it was answered whole.
asio::awaitable<void> observeAfter(net::BodyProducer body, metrics::Histogram& duration,
                                   std::chrono::steady_clock::time_point started,
                                   net::BodyWriter& out) {
  co_await body(out);
  duration.observe(
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
}

Response deleteResponse(const Request& request, const Status& s) {
  if (!s) return errorResponse(request, s.error());
  auto res = baseResponse(request, http::status::no_content);
  res.prepare_payload();
  return res;
}

MetadataFilters filtersOf(const boost::urls::url_view& url) {
  constexpr std::string_view kPrefix = "metadata.";
  MetadataFilters filters;
  std::set<std::string, std::less<>> seen;
  for (const auto& param : url.params()) {
    std::string_view k = param.key;
    if (!k.starts_with(kPrefix) || k.size() == kPrefix.size()) continue;
    std::string name(k.substr(kPrefix.size()));
    if (!seen.insert(name).second) continue;  // the first value of a repeated key counts
    filters.emplace_back(std::move(name), param.has_value ? std::string(param.value) : std::string());
  }
  return filters;
}

// A list: read where the caller runs, streamed from there (see listReply).
asio::awaitable<net::Reply> listOf(ConfigService& service, const Request& request,
                                   const CollectionInfo& info, BackgroundThread& bulk,
                                   std::string space, MetadataFilters filters) {
  switch (info.collection) {
    case Collection::kFunctions:
      co_return listReply(request, info.listKey, bulk,
                          co_await service.listFunctions(std::move(space), std::move(filters)));
    case Collection::kEventTypes:
      co_return listReply(request, info.listKey, bulk,
                          co_await service.listEventTypes(std::move(space), std::move(filters)));
    case Collection::kSubscriptions:
      co_return listReply(request, info.listKey, bulk, co_await service.listSubscriptions(
                                                     std::move(space), std::move(filters)));
    case Collection::kCors:
      co_return listReply(request, info.listKey, bulk,
                          co_await service.listCors(std::move(space), std::move(filters)));
  }
  co_return errorResponse(request, 500, "Unknown collection.");
}

// Creates, reads, updates or deletes one resource (`operation`: create, get, update,
// delete). Runs near the store (ConfigService::nearStore): a write makes several store
// calls in a row.
asio::awaitable<net::Reply> oneOf(ConfigService& service, const Request& request,
                                  Collection collection, std::string operation, std::string space,
                                  std::string id, boost::json::value body) {
  // The four collections answer alike; only the service's methods differ.
  const auto answer = [&](auto create, auto get, auto update, auto remove)
      -> asio::awaitable<net::Reply> {
    if (operation == "create") {
      co_return resultResponse(request, http::status::created,
                               co_await (service.*create)(std::move(space), std::move(body)));
    }
    if (operation == "get") {
      co_return resultResponse(request, http::status::ok,
                               co_await (service.*get)(std::move(space), std::move(id)));
    }
    if (operation == "update") {
      co_return resultResponse(
          request, http::status::ok,
          co_await (service.*update)(std::move(space), std::move(id), std::move(body)));
    }
    co_return deleteResponse(request, co_await (service.*remove)(std::move(space), std::move(id)));
  };
  switch (collection) {
    case Collection::kFunctions:
      co_return co_await answer(&ConfigService::createFunction, &ConfigService::getFunction,
                                &ConfigService::updateFunction, &ConfigService::deleteFunction);
    case Collection::kEventTypes:
      co_return co_await answer(&ConfigService::createEventType, &ConfigService::getEventType,
                                &ConfigService::updateEventType, &ConfigService::deleteEventType);
    case Collection::kSubscriptions:
      co_return co_await answer(&ConfigService::createSubscription,
                                &ConfigService::getSubscription,
                                &ConfigService::updateSubscription,
                                &ConfigService::deleteSubscription);
    case Collection::kCors:
      co_return co_await answer(&ConfigService::createCors, &ConfigService::getCors,
                                &ConfigService::updateCors, &ConfigService::deleteCors);
  }
  co_return errorResponse(request, 500, "Unknown collection.");
}

}  // namespace

unsigned httpStatus(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalid: return 400;
    case ErrorKind::kNotFound: return 404;
    case ErrorKind::kAlreadyExists:
    case ErrorKind::kConflict: return 409;
    case ErrorKind::kTooLarge: return 413;
    case ErrorKind::kUnavailable:
    case ErrorKind::kTimeout: return 503;
    default: return 500;
  }
}

std::string corsIdFromSegment(std::string_view rawSegment) {
  auto pct = boost::urls::make_pct_string_view(rawSegment);
  if (!pct) return std::string(rawSegment);
  std::string decoded = pct->decode();
  if (decoded.find('/') != std::string::npos) return std::string(rawSegment);
  return decoded;
}

void renderResourceCounts(std::string& out,
                          const std::map<std::string, routing::SpaceCounts, std::less<>>& counts) {
  struct Family {
    const char* name;
    const char* help;
    std::size_t routing::SpaceCounts::*field;
  };
  static constexpr Family kFamilies[] = {
      {"eventgateway_functions_total", "Functions registered, per space.",
       &routing::SpaceCounts::functions},
      {"eventgateway_eventtypes_total", "Event types registered, per space.",
       &routing::SpaceCounts::eventTypes},
      {"eventgateway_subscriptions_total", "Subscriptions, per space.",
       &routing::SpaceCounts::subscriptions},
  };
  for (const auto& family : kFamilies) {
    out.append("# HELP ").append(family.name).append(" ").append(family.help).append("\n");
    out.append("# TYPE ").append(family.name).append(" gauge\n");
    for (const auto& [space, c] : counts) {
      out.append(family.name)
          .append("{space=\"")
          .append(metrics::escapeLabelValue(space))
          .append("\"} ")
          .append(std::to_string(c.*family.field))
          .append("\n");
    }
  }
}

ApiRouter::ApiRouter(ConfigService& service, const store::Store& store, metrics::Registry& metrics,
                     observe::TailHub* tails)
    : service_(service),
      store_(store),
      metrics_(metrics),
      tails_(tails),
      requests_(metrics.counterFamily("eventgateway_config_requests_total",
                                      "Config API requests, per space, resource and operation.",
                                      {"space", "resource", "operation"})),
      duration_(metrics.histogram("eventgateway_config_request_duration_seconds",
                                  "Duration of Config API requests.",
                                  metrics::defaultLatencyBuckets())) {}

asio::awaitable<net::Reply> ApiRouter::handle(Request& request) {
  const auto started = std::chrono::steady_clock::now();
  const auto method = request.method();
  auto parsed = boost::urls::parse_origin_form(request.target());
  if (!parsed) co_return errorResponse(request, 400, "Invalid request target.");
  const boost::urls::url_view url = *parsed;
  if (isConsolePath(url.encoded_path())) co_return consoleResponse(request, url.encoded_path());

  std::vector<std::string_view> raw;
  for (auto segment : url.encoded_segments()) raw.emplace_back(segment.data(), segment.size());
  if (!raw.empty() && raw.back().empty()) raw.pop_back();  // a trailing slash
  const auto decoded = [&](std::size_t i) {
    auto pct = boost::urls::make_pct_string_view(raw[i]);
    return pct ? pct->decode() : std::string(raw[i]);
  };

  const bool isMetrics = (raw.size() == 2 && raw[0] == "v1" && raw[1] == "metrics") ||
                         (raw.size() == 1 && raw[0] == "metrics");
  if (isMetrics) {
    if (method != http::verb::get) co_return methodNotAllowed(request, "GET");
    auto res = baseResponse(request, http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.body() = metrics_.render();
    res.prepare_payload();
    co_return res;
  }
  if (raw.size() == 2 && raw[0] == "v1" && raw[1] == "status") {
    if (method != http::verb::get) co_return methodNotAllowed(request, "GET");
    const bool healthy = store_.healthy();
    boost::json::object storeInfo{{"backend", store_.name()}, {"healthy", healthy}};
    boost::json::object body{{"status", healthy ? "ok" : "unavailable"}, {"store", std::move(storeInfo)}};
    co_return jsonResponse(request, healthy ? http::status::ok : http::status::service_unavailable,
                           boost::json::serialize(body));
  }

  const bool tailRoute = tails_ != nullptr && raw.size() == 5 && raw[0] == "v1" &&
                         raw[1] == "spaces" && raw[3] == "events" && raw[4] == "tail";
  if (tailRoute) {
    if (method != http::verb::get) co_return methodNotAllowed(request, "GET");
    const std::string space = decoded(2);
    if (auto valid = model::checkSpace(space); !valid) {
      co_return errorResponse(request, valid.error());
    }
    co_return tailReply(request, *tails_, space, url);
  }

  const bool spaceRoute = (raw.size() == 4 || raw.size() == 5) && raw[0] == "v1" && raw[1] == "spaces";
  const auto info = spaceRoute ? collectionOf(raw[3]) : std::nullopt;
  if (!info) co_return errorResponse(request, 404, "Not found: " + std::string(url.path()) + ".");

  const std::string space = decoded(2);
  const bool item = raw.size() == 5;
  const char* op = nullptr;
  if (!item) {
    if (method == http::verb::get) op = "list";
    else if (method == http::verb::post) op = "create";
    else co_return methodNotAllowed(request, "GET, POST");
  } else {
    if (method == http::verb::get) op = "get";
    else if (method == http::verb::put) op = "update";
    else if (method == http::verb::delete_) op = "delete";
    else co_return methodNotAllowed(request, "GET, PUT, DELETE");
  }
  if (auto valid = model::checkSpace(space); !valid) {
    co_return errorResponse(request, valid.error());
  }
  const std::string id = !item ? std::string()
                         : info->collection == Collection::kCors ? corsIdFromSegment(raw[4])
                                                                 : decoded(4);

  boost::json::value body;
  const bool hasBody = method == http::verb::post || method == http::verb::put;
  if (hasBody) {
    auto json = parseJson(request.body());
    if (!json) {
      requests_.with({space, info->resource, op}).inc();
      co_return errorResponse(request, 400, std::string(info->invalidPrefix) + json.error().message);
    }
    body = std::move(*json);
  }

  // Not one conditional expression: g++ 12 destroys a temporary of a co_await inside one
  // twice.
  net::Reply res;
  if (std::string_view(op) == "list") {
    res = co_await listOf(service_, request, *info, bulk_, space, filtersOf(url));
  } else {
    auto one = oneOf(service_, request, info->collection, op, space, id, std::move(body));
    res = co_await service_.nearStore(std::move(one));
  }

  requests_.with({space, info->resource, op}).inc();
  if (res.streamed()) {
    res.body = [body = std::move(res.body), this, started](net::BodyWriter& out) {
      return observeAfter(body, duration_, started, out);
    };
    co_return res;
  }
  duration_.observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  co_return res;
}

}  // namespace eg::config
