#pragma once

#include <span>
#include <string_view>

namespace eg::console {

// One file of the web console (console/ in the source tree), compiled into the binary
// by cmake/embed_assets.cmake. Static storage: every view lives as long as the process.
struct Asset {
  std::string_view name;         // "index.html", "app.js"
  std::string_view contentType;  // "text/javascript; charset=utf-8"
  std::string_view etag;         // strong, quoted: "\"3f2a…\"", from the content's SHA-256
  std::string_view body;
};

// Every asset, sorted by name.
std::span<const Asset> allAssets();

// The asset a path under /console/ names ("" is index.html), or null. Only exact names
// match: no directories, no "..", no percent-decoding.
const Asset* findAsset(std::string_view path);

// Whether an If-None-Match header value names `etag`: "*", or a comma-separated list
// of entity tags, weak ones ("W/\"…\"") compared weakly as RFC 9110 §13.1.2 says.
bool etagMatches(std::string_view ifNoneMatch, std::string_view etag);

}  // namespace eg::console
