#include "providers/http/http_provider.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>

#include <boost/beast/core/string.hpp>

#include "common/http_syntax.h"
#include "model/limits.h"
#include "providers/failing_invoker.h"
#include "providers/fields.h"
#include "providers/retry_after.h"

namespace eg::providers {

namespace json = boost::json;

namespace {

// The gateway writes Host and the framing headers itself.
bool isReserved(std::string_view name) {
  return isFramingHeader(name) || boost::beast::iequals(name, "Host");
}

Result<std::vector<std::pair<std::string, std::string>>> parseHeaders(const json::object& provider) {
  std::vector<std::pair<std::string, std::string>> headers;
  const json::value* v = provider.if_contains("headers");
  if (v == nullptr || v->is_null()) return headers;
  if (!v->is_object()) {
    return Error::invalid("Field \"provider.headers\" must be an object of strings.");
  }
  if (v->get_object().size() > model::kMaxHeaders) {
    return Error::invalid("Field \"provider.headers\" must have at most " +
                          std::to_string(model::kMaxHeaders) + " entries.");
  }
  for (const auto& [key, value] : v->get_object()) {
    const std::string_view name(key.data(), key.size());
    if (name.size() > model::kMaxHeaderNameLength) {
      return Error::invalid("Field \"provider.headers\" has a header name longer than " +
                            std::to_string(model::kMaxHeaderNameLength) + " bytes.");
    }
    // Names are not secret and the client needs to see which one is wrong.
    if (!fields::isHeaderName(name)) {
      return Error::invalid("Field \"provider.headers\" has an invalid header name \"" +
                            std::string(name) + "\".");
    }
    if (isReserved(name)) {
      return Error::invalid("Field \"provider.headers\" must not set \"" + std::string(name) +
                            "\": the gateway sets it.");
    }
    if (!value.is_string()) {
      return Error::invalid("Field \"provider.headers." + std::string(name) +
                            "\" must be a string.");
    }
    const json::string& text = value.get_string();
    if (text.size() > model::kMaxTokenLength) {
      return Error::invalid("Field \"provider.headers." + std::string(name) +
                            "\" must be at most " + std::to_string(model::kMaxTokenLength) +
                            " bytes long.");
    }
    if (!fields::isHeaderValue(std::string_view(text.data(), text.size()))) {
      return Error::invalid("Field \"provider.headers." + std::string(name) +
                            "\" must not contain CR, LF or NUL.");
    }
    headers.emplace_back(std::string(name), std::string(text.data(), text.size()));
  }
  return headers;
}

void replaceAll(std::string& text, std::string_view what, std::string_view with) {
  if (what.empty()) return;
  for (std::size_t at = text.find(what); at != std::string::npos;
       at = text.find(what, at + with.size())) {
    text.replace(at, what.size(), with);
  }
}

}  // namespace

Result<HttpProviderSettings> parseHttpProvider(const json::object& provider) {
  HttpProviderSettings settings;
  auto url = fields::requiredUrl(provider, "url");
  if (!url) return std::move(url).error();
  settings.url = std::move(url).value();
  auto headers = parseHeaders(provider);
  if (!headers) return std::move(headers).error();
  settings.headers = std::move(headers).value();
  auto connectTimeout = fields::optionalMilliseconds(provider, "connectTimeout",
                                                     settings.connectTimeout);
  if (!connectTimeout) return std::move(connectTimeout).error();
  settings.connectTimeout = *connectTimeout;
  auto timeout = fields::optionalMilliseconds(provider, "timeout", settings.timeout);
  if (!timeout) return std::move(timeout).error();
  settings.timeout = *timeout;
  auto version = fields::optionalString(provider, "eventVersion", 16);
  if (!version) return std::move(version).error();
  if (*version && **version != "as-received") {
    if (**version == "0.1") {
      settings.eventVersion = events::EventVersion::k01;
    } else if (**version == "1.0") {
      settings.eventVersion = events::EventVersion::k10;
    } else {
      return Error::invalid(R"(Field "provider.eventVersion" must be "as-received", "0.1" or "1.0".)");
    }
  }
  auto mode = fields::optionalString(provider, "eventMode", 16);
  if (!mode) return std::move(mode).error();
  if (*mode && **mode != "structured") {
    if (**mode != "binary") {
      return Error::invalid(R"(Field "provider.eventMode" must be "structured" or "binary".)");
    }
    settings.eventMode = events::EventMode::kBinary;
  }
  return settings;
}

std::string loggableUrl(const net::Url& url) {
  const std::string_view target(url.target);
  return url.origin() + std::string(target.substr(0, target.find('?')));
}

HttpInvoker::HttpInvoker(net::HttpClient& client, HttpProviderSettings settings)
    : client_(client), settings_(std::move(settings)), loggableUrl_(loggableUrl(settings_.url)) {
  std::vector<std::pair<std::string, std::string>> headers;
  const bool hasContentType =
      std::any_of(settings_.headers.begin(), settings_.headers.end(),
                  [](const auto& h) { return boost::beast::iequals(h.first, "Content-Type"); });
  customContentType_ = hasContentType;
  if (!hasContentType && settings_.asWritten()) {
    headers.emplace_back("Content-Type", kCloudEventsContentType);
  }
  headers.insert(headers.end(), settings_.headers.begin(), settings_.headers.end());
  requestHead_ = net::fixedRequestHead(net::http::verb::post, settings_.url, headers);
}

boost::asio::awaitable<Result<CallResult>> HttpInvoker::call(std::string_view payload,
                                                             CallContext context) const {
  net::ClientRequest request;
  request.method = net::http::verb::post;
  request.url = &settings_.url;
  // Neither the head nor the payload are copied: both outlive the call.
  request.fixedHead = &requestHead_;
  if (settings_.asWritten()) {
    request.bodyView = payload;
  } else {
    auto message = events::formatEvent(payload, settings_.eventVersion, settings_.eventMode,
                                       {context.traceparent, context.tracestate});
    if (!message) co_return std::move(message).error();
    request.headers = std::move(message->headers);
    if (customContentType_) {
      std::erase_if(request.headers, [](const auto& h) {
        return boost::beast::iequals(h.first, "Content-Type");
      });
    }
    request.body = std::move(message->body);
  }
  if (!context.traceparent.empty()) {
    request.headers.emplace_back("traceparent", context.traceparent);
    if (!context.tracestate.empty()) request.headers.emplace_back("tracestate", context.tracestate);
  }
  request.connectTimeout = settings_.connectTimeout;
  request.responseTimeout = settings_.timeout;

  auto response = co_await client_.send(std::move(request));
  if (!response) {
    // The client's message is about the connection; scrub anything secret it could
    // echo (the query, a header value) before it reaches logs and system events.
    std::string detail = response.error().message;
    const std::string_view target(settings_.url.target);
    if (const auto q = target.find('?'); q != std::string_view::npos) {
      replaceAll(detail, target.substr(q), "?***");
    }
    for (const auto& [name, value] : settings_.headers) {
      if (value.size() >= 4) replaceAll(detail, value, "***");
    }
    if (response.error().kind == ErrorKind::kTimeout) {
      co_return Error::timeout("function call failed: timed out calling " + loggableUrl_ + ": " +
                               detail);
    }
    co_return Error::unavailable("function call failed: cannot call " + loggableUrl_ + ": " +
                                 detail);
  }
  // Only the answers async deliveries retry have a Retry-After worth reading; the usual
  // 200 is not searched for one.
  std::optional<std::chrono::milliseconds> retryAfter;
  if (response->status >= 500 || response->status == 408 || response->status == 429) {
    retryAfter = parseRetryAfter(response->header("Retry-After"), std::chrono::system_clock::now());
  }
  if (response->status >= 500) {
    Error error = Error::unavailable("function call failed: http " +
                                     std::to_string(response->status) + " from " + loggableUrl_);
    error.retryAfter = retryAfter;
    error.httpStatus = response->status;
    co_return error;
  }
  CallResult result;
  result.contentType = std::string(response->header("Content-Type"));
  result.body = std::move(response->body);
  result.status = response->status;
  result.retryAfter = retryAfter;
  co_return result;
}

Status HttpProviderFactory::validate(const json::object& provider) const {
  auto settings = parseHttpProvider(provider);
  if (!settings) return std::move(settings).error();
  return {};
}

std::unique_ptr<Invoker> HttpProviderFactory::create(const model::Function& function) const {
  auto settings = parseHttpProvider(function.provider);
  if (!settings) {
    return std::make_unique<FailingInvoker>(
        Error::unavailable("function call failed: invalid provider: " + settings.error().message));
  }
  return std::make_unique<HttpInvoker>(client_, std::move(settings).value());
}

}  // namespace eg::providers
