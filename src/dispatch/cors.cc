#include "dispatch/cors.h"

#include <cctype>
#include <string>
#include <vector>

namespace eg::dispatch {

namespace http = boost::beast::http;

namespace {

char lower(char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); }

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Comma-separated list items, trimmed, empty ones skipped.
std::vector<std::string_view> splitList(std::string_view list) {
  std::vector<std::string_view> items;
  while (!list.empty()) {
    const auto comma = list.find(',');
    const auto item = trim(list.substr(0, comma));
    if (!item.empty()) items.push_back(item);
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return items;
}

bool allowsAllOrigins(const model::CorsRules& rules) {
  for (const auto& o : rules.origins) {
    if (o == "*") return true;
  }
  return false;
}

bool methodAllowed(const model::CorsRules& rules, std::string_view method) {
  // The preflight's own method is always acceptable.
  if (iequals(method, "OPTIONS")) return true;
  for (const auto& m : rules.methods) {
    if (iequals(m, method)) return true;
  }
  return false;
}

bool headerAllowed(const model::CorsRules& rules, std::string_view header) {
  if (iequals(header, "Origin")) return true;
  for (const auto& h : rules.headers) {
    if (h == "*" || iequals(h, header)) return true;
  }
  return false;
}

void setAllowOrigin(const model::CorsRules& rules, std::string_view origin,
                    net::Response& response) {
  // A literal "*" answer is refused by browsers on credentialed requests: echo instead.
  if (allowsAllOrigins(rules) && !rules.allowCredentials) {
    response.set(http::field::access_control_allow_origin, "*");
  } else {
    response.set(http::field::access_control_allow_origin, origin);
  }
  if (rules.allowCredentials) {
    response.set(http::field::access_control_allow_credentials, "true");
  }
}

}  // namespace

bool originMatches(std::string_view pattern, std::string_view origin) {
  // Iterative glob match: on a mismatch, let the last '*' swallow one more character.
  std::size_t p = 0, o = 0;
  std::size_t star = std::string_view::npos, mark = 0;
  while (o < origin.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = o;
    } else if (p < pattern.size() && lower(pattern[p]) == lower(origin[o])) {
      ++p;
      ++o;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      o = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

bool originAllowed(const model::CorsRules& rules, std::string_view origin) {
  if (origin.empty()) return false;
  for (const auto& pattern : rules.origins) {
    if (originMatches(pattern, origin)) return true;
  }
  return false;
}

bool isPreflight(const net::Request& request) {
  return request.method() == http::verb::options &&
         !request[http::field::access_control_request_method].empty();
}

bool isLegacyEventRequest(const net::Request& request, bool preflight) {
  if (!request["Event"].empty()) return true;
  if (!preflight) return false;
  for (auto header : splitList(request[http::field::access_control_request_headers])) {
    if (iequals(header, "event")) return true;
  }
  return false;
}

const model::CorsRules& allowAllRules() {
  static const model::CorsRules rules{
      {"*"}, {"HEAD", "GET", "POST", "PUT", "PATCH", "DELETE"}, {"*"}, false};
  return rules;
}

net::Response preflightResponse(const model::CorsRules& rules, const net::Request& request) {
  net::Response response{http::status::ok, request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::vary,
               "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
  response.prepare_payload();

  const auto origin = request[http::field::origin];
  if (!originAllowed(rules, origin)) return response;
  const auto method = trim(request[http::field::access_control_request_method]);
  if (!methodAllowed(rules, method)) return response;
  const auto requested = splitList(request[http::field::access_control_request_headers]);
  for (auto header : requested) {
    if (!headerAllowed(rules, header)) return response;
  }

  setAllowOrigin(rules, origin, response);
  std::string upper(method);
  for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  response.set(http::field::access_control_allow_methods, upper);
  if (!requested.empty()) {
    std::string joined;
    for (auto header : requested) {
      if (!joined.empty()) joined += ", ";
      joined += header;
    }
    response.set(http::field::access_control_allow_headers, joined);
  }
  return response;
}

void applyCors(const model::CorsRules& rules, const net::Request& request,
               net::Response& response) {
  const auto origin = request[http::field::origin];
  if (origin.empty()) return;
  response.insert(http::field::vary, "Origin");
  if (!originAllowed(rules, origin)) return;
  if (!methodAllowed(rules, request.method_string())) return;
  setAllowOrigin(rules, origin, response);
}

}  // namespace eg::dispatch
