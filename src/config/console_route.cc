#include "config/console_route.h"

#include <string>

#include "common/json.h"
#include "console/assets.h"

namespace eg::config {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kPrefix = "/console";

// The page talks to its own origin only; nothing is loaded from elsewhere.
constexpr std::string_view kContentSecurityPolicy =
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

net::Response base(const net::Request& request, http::status status) {
  net::Response res{status, request.version()};
  res.keep_alive(request.keep_alive());
  return res;
}

}  // namespace

bool isConsolePath(std::string_view path) {
  return path == kPrefix || (path.starts_with(kPrefix) && path.substr(kPrefix.size()).starts_with('/'));
}

net::Response consoleResponse(const net::Request& request, std::string_view path) {
  const auto method = request.method();
  if (method != http::verb::get && method != http::verb::head) {
    auto res = base(request, http::status::method_not_allowed);
    res.set(http::field::allow, "GET, HEAD");
    res.set(http::field::content_type, "application/json");
    res.body() = errorBody("Method not allowed: the console's assets are GET and HEAD only.");
    res.prepare_payload();
    return res;
  }
  if (path == kPrefix) {
    auto res = base(request, http::status::moved_permanently);
    res.set(http::field::location, "/console/");
    res.prepare_payload();
    return res;
  }
  const console::Asset* asset = console::findAsset(path.substr(kPrefix.size() + 1));
  if (!asset) {
    auto res = base(request, http::status::not_found);
    res.set(http::field::content_type, "application/json");
    res.body() = errorBody("Not found: " + std::string(path) + ".");
    res.prepare_payload();
    return res;
  }
  const auto inm = request.find(http::field::if_none_match);
  const bool fresh = inm != request.end() && console::etagMatches(inm->value(), asset->etag);
  auto res = base(request, fresh ? http::status::not_modified : http::status::ok);
  res.set(http::field::etag, asset->etag);
  res.set(http::field::cache_control, "no-cache");
  if (fresh) return res;
  res.set(http::field::content_type, asset->contentType);
  res.set("X-Content-Type-Options", "nosniff");
  res.set("Referrer-Policy", "no-referrer");
  if (asset->contentType.starts_with("text/html")) {
    res.set("Content-Security-Policy", kContentSecurityPolicy);
  }
  res.body() = std::string(asset->body);
  res.prepare_payload();
  if (method == http::verb::head) res.body().clear();
  return res;
}

}  // namespace eg::config
