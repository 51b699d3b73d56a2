#include "config/access_guard.h"

#include <iterator>
#include <string>
#include <string_view>
#include <vector>

#include <boost/url/parse.hpp>
#include <spdlog/spdlog.h>

#include "common/json.h"

namespace eg::config {
namespace {

namespace http = boost::beast::http;

// What a request asks for, read from its target as ApiRouter reads it (segments, a
// trailing slash dropped, the space percent-decoded), so that the space checked is the
// space the router then serves.
struct Classified {
  bool open = false;  // needs no key
  access::Target target;
  std::string path;  // for logs: the path only, not the query
};

Classified classify(const net::Request& request, bool metricsOpen) {
  Classified out;
  const auto method = request.method();
  out.target.write = method != http::verb::get && method != http::verb::head;
  auto parsed = boost::urls::parse_origin_form(request.target());
  if (!parsed) {
    out.path = "(invalid target)";
    return out;  // kOther: the router answers 400, to an admin
  }
  out.path = parsed->encoded_path();
  std::vector<std::string_view> raw;
  for (auto segment : parsed->encoded_segments()) raw.emplace_back(segment.data(), segment.size());
  if (!raw.empty() && raw.back().empty()) raw.pop_back();

  const bool status = raw.size() == 2 && raw[0] == "v1" && raw[1] == "status";
  const bool metrics = (raw.size() == 2 && raw[0] == "v1" && raw[1] == "metrics") ||
                       (raw.size() == 1 && raw[0] == "metrics");
  if (status && method == http::verb::get) {
    out.open = true;
  } else if (!raw.empty() && raw[0] == "console" &&
             (method == http::verb::get || method == http::verb::head)) {
    out.open = true;  // the console's static assets hold no data; its API calls need a key
  } else if (metrics) {
    out.open = metricsOpen;
    out.target.kind = access::Target::Kind::kMetrics;
  } else if (raw.size() >= 3 && raw[0] == "v1" && raw[1] == "spaces") {
    out.target.kind = access::Target::Kind::kSpace;
    auto pct = boost::urls::make_pct_string_view(raw[2]);
    out.target.space = pct ? pct->decode() : std::string(raw[2]);
  }
  return out;
}

net::Response refusal(const net::Request& request, unsigned status, std::string_view message) {
  net::Response res{static_cast<http::status>(status), request.version()};
  res.keep_alive(request.keep_alive());
  res.set(http::field::content_type, "application/json");
  if (status == 401) res.set(http::field::www_authenticate, "Bearer");
  res.body() = errorBody(message);
  res.prepare_payload();
  return res;
}

}  // namespace

std::optional<net::Response> AccessGuard::check(const net::Request& request) const {
  if (!keys_) return std::nullopt;
  const Classified what = classify(request, metricsOpen_);
  if (what.open) return std::nullopt;
  const std::string_view method = request.method_string();

  const auto unauthorized = [&](std::string_view reason, std::string_view message) {
    spdlog::debug("Config API: {} {} refused (401): {}", method, what.path, reason);
    return refusal(request, 401, message);
  };
  // One Authorization field: two could disagree, and proxies differ on which counts.
  const auto fields = request.equal_range(http::field::authorization);
  if (fields.first == fields.second) {
    return unauthorized("no access key",
                        "An access key is required: send \"Authorization: Bearer <key>\".");
  }
  if (std::next(fields.first) != fields.second) {
    return unauthorized("more than one Authorization header",
                        "Send one Authorization header: \"Authorization: Bearer <key>\".");
  }
  const auto token = access::bearerToken(fields.first->value());
  if (!token) {
    return unauthorized("malformed Authorization header",
                        "Malformed Authorization header: want \"Bearer <key>\".");
  }
  // The set stays alive until this check ends, whatever a reload does meanwhile.
  const auto keys = keys_->current();
  const access::KeySet::Entry* entry = keys->find(*token);
  if (!entry) return unauthorized("unknown access key", "Unknown access key.");

  if (auto denied = access::whyDenied(entry->scope, what.target)) {
    spdlog::debug("Config API: {} {} refused (403) to key {} (scope {})", method, what.path,
                  entry->label(), entry->scope.text());
    return refusal(request, 403, *denied);
  }
  spdlog::debug("Config API: {} {} by key {} (scope {})", method, what.path, entry->label(),
                entry->scope.text());
  return std::nullopt;
}

}  // namespace eg::config
