#include "routing/persistent_path_tree.h"

namespace eg::routing {

void nameParams(std::string_view pattern, const ParamValues& values, PathParams& out) {
  out.clear();
  out.reserve(values.size());
  std::string_view rest = pattern.size() > 1 ? pattern.substr(1) : std::string_view();
  std::size_t i = 0;
  while (!rest.empty() && i < values.size()) {
    const auto slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    if (!segment.empty() && (segment.front() == ':' || segment.front() == '*')) {
      out.emplace_back(std::string(segment.substr(1)), std::string(values[i++]));
    }
    if (slash == std::string_view::npos) break;
    rest.remove_prefix(slash + 1);
  }
}

}  // namespace eg::routing
