#pragma once

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include "events/event_format.h"
#include "net/http_client.h"
#include "providers/provider.h"

namespace eg::providers {

// Provider type "http": the function is an HTTP endpoint that receives the CloudEvent
// as a POST.
//
// | field            | default  | meaning                                                  |
// |------------------|----------|----------------------------------------------------------|
// | `url`            | required | absolute http or https URL the event is POSTed to        |
// | `headers`        | none     | object of strings sent with every call (secret: redacted)|
// | `connectTimeout` | 5000     | ms to connect (and TLS handshake)                        |
// | `timeout`        | 30000    | ms from request sent to response read                    |
// | `eventVersion`   | "as-received" | "0.1" or "1.0": the CloudEvents version to send    |
// | `eventMode`      | "structured"  | or "binary": the content mode (spec §3.8)          |
//
// `headers` is how functions behind other platforms are called:
//   Azure Functions:        {"x-functions-key": "<function key>"}
//   Google Cloud Functions: {"Authorization": "Bearer <identity token>"}
//   OpenWhisk web actions:  {"Authorization": "Basic <base64 of key>"}
// Header names must be HTTP tokens and values must not hold CR, LF or NUL. The headers
// that frame the message (Host, Content-Length, Transfer-Encoding, Connection, ...) are
// the client's and are refused; `Content-Type` may replace the default
// `application/cloudevents+json` (and the one eventVersion and eventMode give).
// eventVersion and eventMode format each event per call (events/event_format.h); the
// defaults send it as the gateway wrote it, with no work per call.
//
// Provider objects are stored as given: fields this type does not know are kept and
// ignored, so a client reads back exactly what it registered.
struct HttpProviderSettings {
  net::Url url;
  std::vector<std::pair<std::string, std::string>> headers;  // in the order given
  std::chrono::milliseconds connectTimeout{5'000};
  std::chrono::milliseconds timeout{30'000};
  events::EventVersion eventVersion = events::EventVersion::kAsReceived;
  events::EventMode eventMode = events::EventMode::kStructured;
  // Sent as the gateway wrote the event, with no conversion.
  bool asWritten() const {
    return eventVersion == events::EventVersion::kAsReceived &&
           eventMode == events::EventMode::kStructured;
  }
};

inline constexpr const char* kCloudEventsContentType = "application/cloudevents+json";

// kInvalid naming the field when `provider` is not a valid http provider.
Result<HttpProviderSettings> parseHttpProvider(const boost::json::object& provider);

// "scheme://host:port/path": the URL without its query, which may hold a key (Azure's
// `?code=`), so that it is safe in error messages and logs.
std::string loggableUrl(const net::Url& url);

// Calls one http function. A response with status below 500 is the result (a 404 is
// the function's answer, not a failed call), with its status and Retry-After so that
// async deliveries can tell 408/429 from final answers; a transport error, a timeout or
// a 5xx is a failed call: kTimeout for a deadline, kUnavailable otherwise (a 5xx's
// Retry-After in Error::retryAfter). Messages name the URL without its query and never
// a header value. Immutable; `client` must outlive it.
class HttpInvoker final : public Invoker {
 public:
  HttpInvoker(net::HttpClient& client, HttpProviderSettings settings);
  using Invoker::call;
  boost::asio::awaitable<Result<CallResult>> call(std::string_view payload,
                                                  CallContext context) const override;

 private:
  net::HttpClient& client_;
  HttpProviderSettings settings_;
  // The head of every call up to Content-Length (net::fixedRequestHead): the URL,
  // Content-Type and the configured headers; without Content-Type when the event
  // is formatted per call (eventVersion, eventMode), which sets it.
  std::string requestHead_;
  bool customContentType_ = false;  // `headers` sets Content-Type: it replaces the format's
  std::string loggableUrl_;
};

class HttpProviderFactory final : public ProviderFactory {
 public:
  explicit HttpProviderFactory(net::HttpClient& client) : client_(client) {}
  Status validate(const boost::json::object& provider) const override;
  bool isSecretField(std::string_view field) const override { return field == "headers"; }
  // An invalid provider (stored before a rule tightened) yields an Invoker whose calls
  // fail with the validation message.
  std::unique_ptr<Invoker> create(const model::Function& function) const override;

 private:
  net::HttpClient& client_;
};

}  // namespace eg::providers
