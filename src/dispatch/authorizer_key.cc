#include "dispatch/authorizer_key.h"

#include <cstdint>
#include <cstring>
#include <iterator>
#include <span>

#include <boost/beast/core/string.hpp>
#include <boost/json.hpp>

#include "common/json.h"
#include "events/request_to_event.h"

namespace eg::dispatch {

namespace json = boost::json;

namespace {

constexpr std::string_view kHeader = "header:";
constexpr std::string_view kQuery = "query:";

void appendLength(std::string& out, std::size_t n) {
  const auto length = static_cast<uint32_t>(n);
  out.append(reinterpret_cast<const char*>(&length), sizeof(length));
}

void appendPiece(std::string& out, std::string_view piece) {
  appendLength(out, piece.size());
  out.append(piece);
}

std::span<const std::string> partsOf(const model::AuthorizerCache& cache) {
  static const std::string kDefault(model::kDefaultAuthorizerCacheKey);
  if (cache.key) return *cache.key;
  return {&kDefault, 1};
}

// Every value of the query parameter `name` of `target`: each one a piece after their
// count, written in place of a count that is patched at the end. False when there is none.
bool appendQueryValues(std::string_view target, std::string_view name, std::string& out) {
  if (target.find('?') == std::string_view::npos) return false;
  // Reused by every request of the thread: nothing allocated once warm.
  thread_local std::string decoded;
  const std::size_t countAt = out.size();
  appendLength(out, 0);
  uint32_t count = 0;
  events::forEachRawQueryPair(target, [&](const std::string& pairName, std::string_view raw) {
    if (pairName != name) return;
    events::decodeQueryComponent(raw, decoded);
    appendPiece(out, decoded);
    ++count;
  });
  std::memcpy(out.data() + countAt, &count, sizeof(count));
  return count > 0;
}

bool appendHeader(const net::Request& request, std::string_view name, std::string& out) {
  auto [first, last] = request.equal_range(name);
  if (first == last) return false;
  appendLength(out, 1);
  if (std::next(first) == last) {
    appendPiece(out, first->value());
    return true;
  }
  const std::size_t lengthAt = out.size();
  appendLength(out, 0);
  for (auto it = first; it != last; ++it) {
    if (it != first) out.append(", ");
    out.append(it->value());
  }
  const auto length = static_cast<uint32_t>(out.size() - lengthAt - sizeof(uint32_t));
  std::memcpy(out.data() + lengthAt, &length, sizeof(length));
  return true;
}

// The parts from an http.request JSON ({"headers": {"<Canonical-Name>": "<values>"},
// "host": "...", "query": {"<name>": ["<value>", ...]}, ...}).
bool appendFromJson(const json::object& request, std::string_view part, std::string& out) {
  if (part.starts_with(kHeader)) {
    const std::string_view name = part.substr(kHeader.size());
    // The http.request data keeps Host apart from the headers.
    if (boost::beast::iequals(name, "Host")) {
      const json::value* host = request.if_contains("host");
      if (host == nullptr || !host->is_string() || host->get_string().empty()) return false;
      appendLength(out, 1);
      appendPiece(out, host->get_string());
      return true;
    }
    const json::value* headers = request.if_contains("headers");
    if (headers == nullptr || !headers->is_object()) return false;
    for (const auto& [key, value] : headers->get_object()) {
      if (boost::beast::iequals(std::string_view(key), name) && value.is_string()) {
        appendLength(out, 1);
        appendPiece(out, value.get_string());
        return true;
      }
    }
    return false;
  }
  const std::string_view name = part.substr(kQuery.size());
  const json::value* query = request.if_contains("query");
  if (query == nullptr || !query->is_object()) return false;
  const json::value* values = query->get_object().if_contains(name);
  if (values == nullptr || !values->is_array() || values->get_array().empty()) return false;
  appendLength(out, values->get_array().size());
  for (const auto& v : values->get_array()) {
    if (!v.is_string()) return false;
    appendPiece(out, v.get_string());
  }
  return true;
}

}  // namespace

bool AuthorizerKey::build(const model::EventType& type, std::string& out) const {
  if (!type.authorizerCache || !type.authorizerId) return false;
  out.clear();
  appendPiece(out, type.space);
  appendPiece(out, type.name);
  appendPiece(out, *type.authorizerId);
  const std::span<const std::string> parts = partsOf(*type.authorizerCache);
  if (request_ != nullptr) {
    for (const std::string& part : parts) {
      const bool found =
          part.starts_with(kHeader)
              ? appendHeader(*request_, std::string_view(part).substr(kHeader.size()), out)
              : appendQueryValues(request_->target(),
                                  std::string_view(part).substr(kQuery.size()), out);
      if (!found) return false;
    }
    return true;
  }
  if (requestJson_.empty()) return false;
  boost::system::error_code ec;
  const json::value parsed = parseValue(requestJson_, ec);
  if (ec || !parsed.is_object()) return false;
  for (const std::string& part : parts) {
    if (!appendFromJson(parsed.get_object(), part, out)) return false;
  }
  return true;
}

}  // namespace eg::dispatch
