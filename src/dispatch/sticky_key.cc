#include "dispatch/sticky_key.h"

#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>

#include "common/json.h"
#include "events/event_attribute.h"
#include "routing/snapshot.h"

namespace eg::dispatch {

namespace json = boost::json;

namespace {

// The header `name` of an http.request JSON ({"headers": {"<Name>": "<values>"}, ...}),
// whose names are canonical ("X-User"): compared case-insensitively.
std::optional<std::string> headerOfRequestJson(std::string_view requestJson,
                                               std::string_view name) {
  if (requestJson.empty()) return std::nullopt;
  boost::system::error_code ec;
  const json::value parsed = parseValue(requestJson, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const json::value* headers = parsed.get_object().if_contains("headers");
  if (headers == nullptr || !headers->is_object()) return std::nullopt;
  for (const auto& [key, value] : headers->get_object()) {
    if (boost::beast::iequals(std::string_view(key), name) && value.is_string()) {
      return std::string(value.get_string());
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string_view> CallKey::value(const providers::StickyBy& by) const {
  using Kind = providers::StickyBy::Kind;
  std::optional<std::string> owned;
  switch (by.kind) {
    case Kind::kNone:
      return std::nullopt;
    case Kind::kHeader:
      if (request_ != nullptr) {
        auto [first, last] = request_->equal_range(by.name);
        if (first == last) return std::nullopt;
        // One field (the usual case): a view of it, no copy.
        if (std::next(first) == last) return first->value();
        scratch_.clear();
        for (auto it = first; it != last; ++it) {
          if (it != first) scratch_.append(", ");
          scratch_.append(it->value());
        }
        return std::string_view(scratch_);
      }
      owned = headerOfRequestJson(requestJson_, by.name);
      break;
    case Kind::kAttribute:
      owned = events::attributeOf(eventJson_, by.name);
      break;
  }
  if (!owned) return std::nullopt;
  scratch_ = std::move(*owned);
  return std::string_view(scratch_);
}

bool needsRequestHeaders(const routing::FunctionEntry* function) {
  return function != nullptr && function->weighted != nullptr &&
         function->weighted->stickyBy.kind == providers::StickyBy::Kind::kHeader;
}

}  // namespace eg::dispatch
