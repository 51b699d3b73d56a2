#include "console/assets.h"

#include <algorithm>

namespace eg::console {

const Asset* findAsset(std::string_view path) {
  if (path.empty()) path = "index.html";
  const auto assets = allAssets();
  const auto it = std::lower_bound(assets.begin(), assets.end(), path,
                                   [](const Asset& a, std::string_view p) { return a.name < p; });
  return it != assets.end() && it->name == path ? &*it : nullptr;
}

bool etagMatches(std::string_view ifNoneMatch, std::string_view etag) {
  const auto trim = [](std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  };
  if (trim(ifNoneMatch) == "*") return true;
  while (!ifNoneMatch.empty()) {
    const auto comma = ifNoneMatch.find(',');
    auto tag = trim(ifNoneMatch.substr(0, comma));
    if (tag.starts_with("W/")) tag.remove_prefix(2);
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    ifNoneMatch.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace eg::console
