#include "dispatch/answers.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/json.h"

namespace eg::dispatch {

namespace http = boost::beast::http;

net::Response emptyResponse(const net::Request& request, http::status status) {
  net::Response response{status, request.version()};
  response.keep_alive(request.keep_alive());
  response.prepare_payload();
  return response;
}

net::Response jsonError(const net::Request& request, http::status status,
                        std::string_view message) {
  net::Response response{status, request.version()};
  response.keep_alive(request.keep_alive());
  response.set(http::field::content_type, "application/json");
  response.body() = errorBody(message);
  response.prepare_payload();
  return response;
}

net::Response shuttingDown(const net::Request& request) {
  net::Response response = jsonError(request, http::status::service_unavailable, kShuttingDown);
  response.set(http::field::retry_after, "1");
  return response;
}

net::Response queueRefused(const net::Request& request, std::string_view message) {
  net::Response response = jsonError(request, http::status::service_unavailable, message);
  response.set(http::field::retry_after, "1");
  return response;
}

net::Response overLimits(const net::Request& request, std::string_view functionId,
                         std::chrono::milliseconds wait) {
  net::Response response =
      jsonError(request, http::status::too_many_requests,
                "function \"" + std::string(functionId) + "\" is over its limits; retry later");
  const auto seconds = std::max<std::int64_t>(1, (wait.count() + 999) / 1000);
  response.set(http::field::retry_after, std::to_string(seconds));
  return response;
}

}  // namespace eg::dispatch
