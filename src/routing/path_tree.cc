#include "routing/path_tree.h"

namespace eg::routing {

Result<std::vector<PatternSegment>> parsePattern(std::string_view pattern) {
  if (pattern.empty() || pattern.front() != '/') {
    return Error::invalid("path \"" + std::string(pattern) + "\" must start with \"/\"");
  }
  std::vector<PatternSegment> segments;
  if (pattern.size() == 1) return segments;
  std::string_view rest = pattern.substr(1);
  for (;;) {
    const auto slash = rest.find('/');
    const std::string_view text = rest.substr(0, slash);
    PatternSegment seg;
    if (!text.empty() && (text.front() == ':' || text.front() == '*')) {
      seg.kind = text.front() == ':' ? SegmentKind::kParam : SegmentKind::kWildcard;
      seg.text = text.substr(1);
      if (seg.text.empty()) {
        return Error::invalid("path \"" + std::string(pattern) +
                              "\" has a parameter or wildcard without a name");
      }
    } else {
      seg.text = text;
    }
    if (!segments.empty() && segments.back().kind == SegmentKind::kWildcard) {
      return Error::invalid("wildcard must be the last segment of path \"" +
                            std::string(pattern) + "\"");
    }
    segments.push_back(seg);
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
  return segments;
}

Status validateRoutePath(std::string_view pattern) {
  auto segments = parsePattern(pattern);
  if (!segments) return std::move(segments).error();
  return {};
}

namespace path_tree_detail {

Error conflict(std::string_view pattern, std::string_view what, std::string_view existing) {
  return Error::invalid("path \"" + std::string(pattern) + "\" conflicts with existing path \"" +
                        std::string(existing) + "\": " + std::string(what));
}

Error duplicate(std::string_view pattern) {
  return Error::alreadyExists("path \"" + std::string(pattern) + "\" is already registered");
}

}  // namespace path_tree_detail
}  // namespace eg::routing
