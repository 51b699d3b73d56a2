#include "providers/fields.h"

#include <cmath>

#include "common/http_syntax.h"
#include "model/limits.h"

namespace eg::providers::fields {

namespace json = boost::json;

namespace {

std::string fieldName(std::string_view name) { return "\"provider." + std::string(name) + "\""; }

const json::value* present(const json::object& provider, std::string_view name) {
  const json::value* v = provider.if_contains(name);
  return v == nullptr || v->is_null() ? nullptr : v;
}

Error tooLong(std::string_view name, std::size_t maxLength) {
  return Error::invalid("Field " + fieldName(name) + " must be at most " +
                        std::to_string(maxLength) + " bytes long.");
}

}  // namespace

Result<std::string> requiredString(const json::object& provider, std::string_view name,
                                   std::size_t maxLength) {
  const json::value* v = present(provider, name);
  if (v == nullptr) {
    return Error::invalid("Missing required field \"" + std::string(name) + "\" in provider.");
  }
  if (!v->is_string()) return Error::invalid("Field " + fieldName(name) + " must be a string.");
  if (v->get_string().empty()) {
    return Error::invalid("Field " + fieldName(name) + " must not be empty.");
  }
  if (v->get_string().size() > maxLength) return tooLong(name, maxLength);
  return std::string(v->get_string());
}

Result<std::optional<std::string>> optionalString(const json::object& provider,
                                                  std::string_view name, std::size_t maxLength) {
  const json::value* v = present(provider, name);
  if (v == nullptr) return std::optional<std::string>();
  if (!v->is_string()) return Error::invalid("Field " + fieldName(name) + " must be a string.");
  if (v->get_string().empty()) return std::optional<std::string>();
  if (v->get_string().size() > maxLength) return tooLong(name, maxLength);
  return std::optional<std::string>(std::string(v->get_string()));
}

Result<net::Url> requiredUrl(const json::object& provider, std::string_view name) {
  auto text = requiredString(provider, name, model::kMaxUrlLength);
  if (!text) return std::move(text).error();
  auto url = net::Url::parse(*text);
  if (!url) return Error::invalid("Field " + fieldName(name) + " must be an http or https URL.");
  return std::move(url).value();
}

Result<std::optional<net::Url>> optionalUrl(const json::object& provider, std::string_view name) {
  auto text = optionalString(provider, name, model::kMaxUrlLength);
  if (!text) return std::move(text).error();
  if (!text->has_value()) return std::optional<net::Url>();
  auto url = net::Url::parse(**text);
  if (!url) return Error::invalid("Field " + fieldName(name) + " must be an http or https URL.");
  return std::optional<net::Url>(std::move(url).value());
}

Result<std::chrono::milliseconds> optionalMilliseconds(const json::object& provider,
                                                       std::string_view name,
                                                       std::chrono::milliseconds fallback) {
  const json::value* v = present(provider, name);
  if (v == nullptr) return fallback;
  // JSON has one number type: 200 and 200.0 are the same value to a JavaScript client.
  std::optional<std::int64_t> n;
  if (v->is_int64()) {
    n = v->get_int64();
  } else if (v->is_uint64()) {
    n = v->get_uint64() <= static_cast<std::uint64_t>(kMaxMilliseconds)
            ? static_cast<std::int64_t>(v->get_uint64())
            : kMaxMilliseconds + 1;
  } else if (v->is_double()) {
    const double d = v->get_double();
    if (std::isfinite(d) && std::trunc(d) == d && std::fabs(d) <= 1e15) {
      n = static_cast<std::int64_t>(d);
    }
  }
  if (!n || *n <= 0 || *n > kMaxMilliseconds) {
    return Error::invalid("Field " + fieldName(name) +
                          " must be a positive whole number of milliseconds, at most " +
                          std::to_string(kMaxMilliseconds) + ".");
  }
  return std::chrono::milliseconds(*n);
}

bool isHeaderName(std::string_view name) { return isHttpToken(name); }

bool isHeaderValue(std::string_view value) { return isHttpFieldValue(value); }

}  // namespace eg::providers::fields
