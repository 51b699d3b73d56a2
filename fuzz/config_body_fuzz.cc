// Config API bodies (model/validation.h), read as the Config API reads them: the first
// byte picks the request (create or update of a function, event type, subscription or
// CORS configuration; for an update also which existing resource), the rest is the body.
// Functions are also checked by their provider type's factory and built into an invoker,
// as a snapshot would. Whatever is accepted must round-trip:
//   - its stored form is valid JSON that decodes to the same resource;
//   - its API output is valid JSON, and both sent back as a new body (POST) and sent
//     back unchanged to its own resource (PUT) it is accepted as the same resource.
// "The same" is: the same stored form.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "model/codec.h"
#include "model/validation.h"
#include "net/http_client.h"
#include "providers/builtin.h"

namespace {

using namespace eg::model;
using eg::Result;
namespace json = boost::json;

constexpr std::string_view kSpace = "default";

void check(bool ok) {
  if (!ok) std::abort();
}

template <class T>
T make(Result<T> r) {
  check(r.ok());
  return std::move(r).value();
}

json::value body(std::string_view text) { return make(eg::parseJson(text)); }

// Existing resources that updates apply to: every shape a PUT can meet.
const std::vector<Subscription>& subscriptions() {
  static const std::vector<Subscription> all = [] {
    std::vector<Subscription> out;
    for (std::string_view text : {
             R"({"type":"async","eventType":"user.created","functionId":"f","path":"/users/:id",
                 "deliveryPolicy":{"retries":3,"backoff":"linear","maxEventAge":"1h"}})",
             R"({"type":"sync","eventType":"http.request","functionId":"f","method":"get",
                 "path":"/a/*rest","metadata":{"team":"x"}})",
             R"({"event":"http","functionId":"f","method":"GET","path":"/hello","cors":{}})",
             R"({"event":"invoke","functionId":"f","path":"/"})",
             R"({"event":"custom.ev","functionId":"f"})",
         }) {
      out.push_back(make(subscriptionFromRequest(kSpace, body(text))));
    }
    return out;
  }();
  return all;
}

const std::vector<Cors>& corsConfigurations() {
  static const std::vector<Cors> all = {
      make(corsFromRequest(kSpace, body(R"({"method":"GET","path":"/test"})"))),
      make(corsFromRequest(kSpace, body(R"({"method":"POST","path":"/a/:b","allowedOrigins":
           ["https://*.example.com"],"allowCredentials":true,"metadata":{"k":"v"}})"))),
  };
  return all;
}

// What the Config API adds to the model's checks for a function.
bool providerAccepts(const Function& f) {
  static eg::net::HttpClient client;
  static const eg::providers::ProviderRegistry registry = [] {
    eg::providers::ProviderRegistry r;
    eg::providers::registerBuiltinProviders(r, client);
    return r;
  }();
  const auto* factory = registry.find(f.type);
  if (factory == nullptr || !factory->validate(f.provider)) return false;
  check(factory->create(f) != nullptr);
  return true;
}

Result<Function> decode(const Function&, std::string_view s) { return decodeStoredFunction(s); }
Result<EventType> decode(const EventType&, std::string_view s) { return decodeStoredEventType(s); }
Result<Subscription> decode(const Subscription&, std::string_view s) {
  return decodeStoredSubscription(s);
}
Result<Cors> decode(const Cors&, std::string_view s) { return decodeStoredCors(s); }

// The resource's API output sent back: as a new resource, and to the resource itself.
std::vector<Result<Function>> sentBack(const Function& f, const json::value& out) {
  return {functionFromRequest(kSpace, out), functionUpdateFromRequest(kSpace, f.functionId, out)};
}
std::vector<Result<EventType>> sentBack(const EventType& e, const json::value& out) {
  return {eventTypeFromRequest(kSpace, out), eventTypeUpdateFromRequest(kSpace, e.name, out)};
}
std::vector<Result<Subscription>> sentBack(const Subscription& s, const json::value& out) {
  return {subscriptionFromRequest(kSpace, out), subscriptionUpdateFromRequest(s, out)};
}
std::vector<Result<Cors>> sentBack(const Cors& c, const json::value& out) {
  return {corsFromRequest(kSpace, out), corsUpdateFromRequest(c, out)};
}

template <class T>
void roundTrip(const Result<T>& accepted) {
  if (!accepted) {
    check(accepted.error().kind == eg::ErrorKind::kInvalid && !accepted.error().message.empty());
    return;
  }
  const T& x = *accepted;
  const std::string stored = encodeStored(x);
  check(eg::parseJson(stored).ok());
  const auto decoded = decode(x, stored);
  check(decoded && encodeStored(*decoded) == stored);
  const auto output = eg::parseJson(json::serialize(toJson(x)));
  check(output.ok());
  for (const auto& again : sentBack(x, *output)) check(again && encodeStored(*again) == stored);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t pick = data[0];
  auto parsed = eg::parseJson(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1));
  if (!parsed) return 0;
  const json::value& b = *parsed;
  const auto& subs = subscriptions();
  const auto& cors = corsConfigurations();
  switch (pick % 8) {
    case 0:
    case 1: {
      auto f = pick % 8 == 0 ? functionFromRequest(kSpace, b)
                             : functionUpdateFromRequest(kSpace, "fn-1", b);
      if (!f || providerAccepts(*f)) roundTrip(f);
      break;
    }
    case 2: roundTrip(eventTypeFromRequest(kSpace, b)); break;
    case 3: roundTrip(eventTypeUpdateFromRequest(kSpace, "user.created", b)); break;
    case 4: roundTrip(subscriptionFromRequest(kSpace, b)); break;
    case 5: roundTrip(subscriptionUpdateFromRequest(subs[pick / 8 % subs.size()], b)); break;
    case 6: roundTrip(corsFromRequest(kSpace, b)); break;
    case 7: roundTrip(corsUpdateFromRequest(cors[pick / 8 % cors.size()], b)); break;
  }
  return 0;
}
