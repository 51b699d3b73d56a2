#include "model/validation.h"

#include <algorithm>
#include <array>
#include <set>

#include "common/duration.h"
#include "common/http_syntax.h"
#include "events/filter.h"
#include "model/codec.h"
#include "model/ids.h"
#include "model/limits.h"

namespace eg::model {
namespace json = boost::json;
namespace {

constexpr std::array<std::string_view, 7> kMethods = {"GET",    "POST", "PUT",    "PATCH",
                                                      "DELETE", "HEAD", "OPTIONS"};

std::string quoted(std::string_view field) { return "\"" + std::string(field) + "\""; }

Error invalid(std::string_view prefix, std::string detail) {
  return Error::invalid(std::string(prefix) + detail);
}

std::string missing(std::string_view field) {
  return "Missing required field " + quoted(field) + ".";
}

std::string badName(std::string_view field) {
  return "Field " + quoted(field) + " may only contain letters, digits, \".\", \"-\" and \"_\".";
}

std::string tooLong(std::string_view field, std::size_t max) {
  return "Field " + quoted(field) + " must be at most " + std::to_string(max) + " bytes long.";
}

std::string tooMany(std::string_view field, std::size_t max) {
  return "Field " + quoted(field) + " must have at most " + std::to_string(max) + " entries.";
}

// A limit as a user writes it: "24h" rather than Go's "24h0m0s".
std::string limitText(std::chrono::milliseconds d) {
  std::string text = formatGoDuration(d);
  if (text.ends_with("m0s") && text.size() > 3) text.resize(text.size() - 2);
  if (text.ends_with("h0m")) text.resize(text.size() - 2);
  return text;
}

// Reads the fields of one request object; the first problem is kept and later reads
// become no-ops, so that decoders read straight through and check once at the end.
class Fields {
 public:
  Fields(const json::object& object, std::string_view prefix, std::string fieldPrefix = "")
      : object_(object), prefix_(prefix), fieldPrefix_(std::move(fieldPrefix)) {}

  bool failed() const { return error_.has_value(); }
  Error error() const { return *error_; }
  void fail(std::string detail) {
    if (!error_) error_ = invalid(prefix_, std::move(detail));
  }
  void failWith(Error e) {
    if (!error_) error_ = std::move(e);
  }

  // Present and not null.
  const json::value* find(std::string_view name) const {
    const auto* v = object_.if_contains(name);
    return (v && !v->is_null()) ? v : nullptr;
  }
  bool has(std::string_view name) const { return find(name) != nullptr; }

  std::optional<std::string> optString(std::string_view name) {
    if (failed()) return std::nullopt;
    const auto* v = find(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      fail("Field " + quoted(full(name)) + " must be a string.");
      return std::nullopt;
    }
    return std::string(v->get_string());
  }

  std::string string(std::string_view name) {
    auto s = optString(name);
    if (failed()) return {};
    if (!s || s->empty()) {
      fail(missing(full(name)));
      return {};
    }
    return std::move(*s);
  }

  std::string name(std::string_view field) {
    auto s = string(field);
    if (!failed()) checkName(field, s);
    return s;
  }

  std::optional<std::string> optName(std::string_view field) {
    auto s = optString(field);
    if (s) checkName(field, *s);
    return s;
  }

  std::optional<Metadata> metadata() {
    if (failed()) return std::nullopt;
    const auto* v = find("metadata");
    if (!v) return std::nullopt;
    const std::string msg = "Field " + quoted(full("metadata")) + " must be an object of strings.";
    if (!v->is_object()) {
      fail(msg);
      return std::nullopt;
    }
    if (v->as_object().size() > kMaxMetadataEntries) {
      fail(tooMany(full("metadata"), kMaxMetadataEntries));
      return std::nullopt;
    }
    Metadata m;
    for (const auto& [k, val] : v->as_object()) {
      if (!val.is_string()) {
        fail(msg);
        return std::nullopt;
      }
      if (k.size() > kMaxMetadataKeyLength) {
        fail("Field " + quoted(full("metadata")) + " has a key longer than " +
             std::to_string(kMaxMetadataKeyLength) + " bytes.");
        return std::nullopt;
      }
      if (val.get_string().size() > kMaxMetadataValueLength) {
        fail(tooLong(full("metadata.") + std::string(k), kMaxMetadataValueLength));
        return std::nullopt;
      }
      m.emplace(std::string(k), std::string(val.get_string()));
    }
    return m;
  }

  // Absent: `fallback`. Present: a non-empty array of strings, within the CORS bounds.
  std::vector<std::string> strings(std::string_view name, std::vector<std::string> fallback) {
    if (failed()) return fallback;
    const auto* v = find(name);
    if (!v) return fallback;
    const std::string msg = "Field " + quoted(full(name)) + " must be an array of strings.";
    if (!v->is_array()) {
      fail(msg);
      return fallback;
    }
    if (v->as_array().size() > kMaxCorsEntries) {
      fail(tooMany(full(name), kMaxCorsEntries));
      return fallback;
    }
    std::vector<std::string> out;
    for (const auto& e : v->as_array()) {
      if (!e.is_string()) {
        fail(msg);
        return fallback;
      }
      if (e.get_string().size() > kMaxCorsEntryLength) {
        fail("Field " + quoted(full(name)) + " has an entry longer than " +
             std::to_string(kMaxCorsEntryLength) + " bytes.");
        return fallback;
      }
      out.emplace_back(e.get_string());
    }
    if (out.empty()) fail("Field " + quoted(full(name)) + " must not be empty.");
    return out;
  }

  bool boolean(std::string_view name, bool fallback) {
    if (failed()) return fallback;
    const auto* v = find(name);
    if (!v) return fallback;
    if (!v->is_bool()) {
      fail("Field " + quoted(full(name)) + " must be a boolean.");
      return fallback;
    }
    return v->get_bool();
  }

  std::string path(std::string_view field, bool required) {
    if (failed()) return {};
    auto raw = required ? string(field) : optString(field).value_or("/");
    if (failed()) return {};
    auto p = normalizePath(raw, full(field));
    if (!p) {
      fail(p.error().message);
      return {};
    }
    return std::move(*p);
  }

  std::string method(std::string_view field, std::optional<std::string> fallback) {
    if (failed()) return {};
    auto raw = fallback ? optString(field) : std::optional<std::string>(string(field));
    if (failed()) return {};
    if (!raw) return *fallback;
    auto m = normalizeMethod(*raw, full(field));
    if (!m) {
      fail(m.error().message);
      return {};
    }
    return std::move(*m);
  }

  // Absent: nullopt. Present: a JSON integer (not 1.0) within [min, max].
  std::optional<int> optInteger(std::string_view name, int min, int max) {
    if (failed()) return std::nullopt;
    const auto* v = find(name);
    if (!v) return std::nullopt;
    // Integers beyond int64 parse as uint64 or double: out of range either way.
    if (!v->is_int64() || v->get_int64() < min || v->get_int64() > max) {
      fail("Field " + quoted(full(name)) + " must be an integer between " + std::to_string(min) +
           " and " + std::to_string(max) + ".");
      return std::nullopt;
    }
    return static_cast<int>(v->get_int64());
  }

  // Absent: nullopt. Present: a Go duration string within [1ms, max], kept with its text.
  std::optional<Duration> optDuration(std::string_view name, std::chrono::milliseconds max) {
    if (failed()) return std::nullopt;
    const auto* v = find(name);
    if (!v) return std::nullopt;
    const auto notADuration = [&] {
      fail("Field " + quoted(full(name)) + R"( must be a duration such as "200ms", "1m30s" or "1.5h".)");
      return std::nullopt;
    };
    if (!v->is_string()) return notADuration();
    if (v->get_string().size() > kMaxDurationLength) {
      fail(tooLong(full(name), kMaxDurationLength));
      return std::nullopt;
    }
    const auto value = parseGoDuration(v->get_string());
    if (!value) return notADuration();
    if (value->count() < 1 || *value > max) {
      fail("Field " + quoted(full(name)) + " must be between 1ms and " + limitText(max) + ".");
      return std::nullopt;
    }
    return Duration{std::string(v->get_string()), *value};
  }

  // Fails on the first field (in the object's order) that is not one of `known`.
  template <size_t N>
  void rejectUnknown(const std::array<std::string_view, N>& known, std::string_view expected) {
    if (failed()) return;
    for (const auto& [k, v] : object_) {
      if (std::find(known.begin(), known.end(), std::string_view(k)) == known.end()) {
        fail("Field " + quoted(full(k)) + " is unknown; " + std::string(expected));
        return;
      }
    }
  }

  std::string full(std::string_view name) const { return fieldPrefix_ + std::string(name); }

 private:
  void checkName(std::string_view field, std::string_view value) {
    if (value.size() > kMaxNameLength) {
      fail(tooLong(full(field), kMaxNameLength));
    } else if (!isValidName(value)) {
      fail(badName(full(field)));
    }
  }

  const json::object& object_;
  std::string_view prefix_;
  std::string fieldPrefix_;
  std::optional<Error> error_;
};

Result<const json::object*> bodyObject(const json::value& body, std::string_view prefix) {
  if (!body.is_object()) return invalid(prefix, "request body must be a JSON object.");
  return &body.as_object();
}

bool isNameChar(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '-' || c == '_';
}

CorsRules readRules(Fields& f, std::string_view origins, std::string_view methods,
                    std::string_view headers) {
  CorsRules defaults;
  CorsRules r;
  r.origins = f.strings(origins, defaults.origins);
  r.methods = f.strings(methods, defaults.methods);
  r.headers = f.strings(headers, defaults.headers);
  r.allowCredentials = f.boolean("allowCredentials", defaults.allowCredentials);
  return r;
}

bool sameRules(const CorsRules& a, const CorsRules& b) {
  return a.origins == b.origins && a.methods == b.methods && a.headers == b.headers &&
         a.allowCredentials == b.allowCredentials;
}

// Gen 1 `cors` of an http subscription: {origins, methods, headers, allowCredentials}.
std::optional<CorsRules> readGen1Cors(Fields& f) {
  const auto* v = f.find("cors");
  if (!v || f.failed()) return std::nullopt;
  if (!v->is_object()) {
    f.fail("Field \"cors\" must be an object.");
    return std::nullopt;
  }
  Fields inner(v->as_object(), kSubscriptionInvalid, "cors.");
  auto rules = readRules(inner, "origins", "methods", "headers");
  if (inner.failed()) {
    f.failWith(inner.error());
    return std::nullopt;
  }
  return rules;
}

constexpr std::array<std::string_view, 6> kPolicyFields = {
    "retries", "backoff", "backoffDelay", "maxBackoff", "maxEventAge", "deadLetterFunctionId"};

// `deliveryPolicy` of an async subscription (rules in validation.h).
std::optional<DeliveryPolicy> readDeliveryPolicy(Fields& f) {
  const auto* v = f.find("deliveryPolicy");
  if (!v || f.failed()) return std::nullopt;
  if (!v->is_object()) {
    f.fail("Field \"deliveryPolicy\" must be an object.");
    return std::nullopt;
  }
  Fields inner(v->as_object(), kSubscriptionInvalid, "deliveryPolicy.");
  inner.rejectUnknown(kPolicyFields,
                      "a delivery policy has retries, backoff, backoffDelay, maxBackoff, "
                      "maxEventAge and deadLetterFunctionId.");
  DeliveryPolicy p;
  p.retries = inner.optInteger("retries", 0, kMaxDeliveryRetries);
  if (const auto* backoff = inner.find("backoff"); backoff && !inner.failed()) {
    p.backoff = backoff->is_string() ? parseBackoff(backoff->get_string()) : std::nullopt;
    if (!p.backoff) {
      inner.fail(R"(Field "deliveryPolicy.backoff" must be "exponential", "linear" or "constant".)");
    }
  }
  p.backoffDelay = inner.optDuration("backoffDelay", kMaxDeliveryBackoff);
  p.maxBackoff = inner.optDuration("maxBackoff", kMaxDeliveryBackoff);
  p.maxEventAge = inner.optDuration("maxEventAge", kMaxDeliveryEventAge);
  p.deadLetterFunctionId = inner.optName("deadLetterFunctionId");
  // maxBackoff caps every delay, so a larger first delay given beside it is a mistake.
  if (!inner.failed() && p.backoffDelay && p.maxBackoff &&
      p.backoffDelay->value > p.maxBackoff->value) {
    inner.fail(R"(Field "deliveryPolicy.backoffDelay" must not exceed "deliveryPolicy.maxBackoff".)");
  }
  if (inner.failed()) {
    f.failWith(inner.error());
    return std::nullopt;
  }
  return p;
}

constexpr std::array<std::string_view, 2> kAuthorizerCacheFields = {"ttl", "key"};

// One part of an authorizerCache key: "header:<token>" or "query:<name>", where a query
// parameter name is any text but control characters (it is compared decoded).
bool validCacheKeyPart(std::string_view part) {
  std::string_view name;
  bool header = false;
  if (part.starts_with("header:")) {
    name = part.substr(7);
    header = true;
  } else if (part.starts_with("query:")) {
    name = part.substr(6);
  } else {
    return false;
  }
  if (name.empty() || name.size() > kMaxAuthorizerCacheKeyNameLength) return false;
  if (header) return isHttpToken(name);
  return std::none_of(name.begin(), name.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; });
}

// `authorizerCache` of an event type (rules in validation.h). Unknown fields inside are
// refused, as in deliveryPolicy: a misspelt "keys" silently ignored would cache by the
// Authorization header alone, and hand one caller's decision to another.
std::optional<AuthorizerCache> readAuthorizerCache(Fields& f, bool hasAuthorizer) {
  const auto* v = f.find("authorizerCache");
  if (!v || f.failed()) return std::nullopt;
  if (!hasAuthorizer) {
    f.fail(R"(Field "authorizerCache" is only allowed with "authorizerId".)");
    return std::nullopt;
  }
  if (!v->is_object()) {
    f.fail(R"(Field "authorizerCache" must be an object.)");
    return std::nullopt;
  }
  Fields inner(v->as_object(), kEventTypeInvalid, "authorizerCache.");
  inner.rejectUnknown(kAuthorizerCacheFields, "an authorizer cache has ttl and key.");
  AuthorizerCache c;
  auto ttl = inner.optDuration("ttl", kMaxAuthorizerCacheTtl);
  if (!inner.failed() && !ttl) inner.fail(missing("authorizerCache.ttl"));
  if (ttl) c.ttl = std::move(*ttl);
  if (const auto* key = inner.find("key"); key && !inner.failed()) {
    const std::string msg = R"(Field "authorizerCache.key" must be an array of 1 to )" +
                            std::to_string(kMaxAuthorizerCacheKeys) +
                            R"( entries, each "header:<Name>" or "query:<name>".)";
    if (!key->is_array() || key->as_array().empty() ||
        key->as_array().size() > kMaxAuthorizerCacheKeys) {
      inner.fail(msg);
    } else {
      std::vector<std::string> parts;
      for (const auto& part : key->as_array()) {
        if (!part.is_string() || !validCacheKeyPart(part.get_string())) {
          inner.fail(msg);
          break;
        }
        parts.emplace_back(part.get_string());
      }
      if (!inner.failed()) c.key = std::move(parts);
    }
  }
  if (inner.failed()) {
    f.failWith(inner.error());
    return std::nullopt;
  }
  return c;
}

// Fails `f` when the body sets `field`, which only async subscriptions take, on `s`.
void refuseUnlessAsync(Fields& f, const Subscription& s, std::string_view field) {
  if (s.type == SubscriptionType::kAsync || !f.has(field)) return;
  if (s.generation == Generation::k2) {
    f.fail("field " + quoted(field) + R"( is only allowed with type "async".)");
  } else {
    f.fail("field " + quoted(field) + " is not allowed with event " +
           (s.type == SubscriptionType::kSync ? R"("http".)" : R"("invoke".)"));
  }
}

// The policy of `s` from the body: read for async subscriptions, refused for the others.
std::optional<DeliveryPolicy> readPolicyOf(Fields& f, const Subscription& s) {
  refuseUnlessAsync(f, s, "deliveryPolicy");
  if (s.type != SubscriptionType::kAsync) return std::nullopt;
  return readDeliveryPolicy(f);
}

// `filters` of an async subscription (spec §3.9), checked by compiling them; refused on
// the other kinds. An empty array is kept: no expression, so every event matches.
std::optional<json::array> readFiltersOf(Fields& f, const Subscription& s) {
  refuseUnlessAsync(f, s, "filters");
  const auto* v = f.find("filters");
  if (!v || f.failed()) return std::nullopt;
  if (auto compiled = events::Filter::compile(*v); !compiled) {
    f.fail(compiled.error().message);
    return std::nullopt;
  }
  return v->as_array();
}

std::string changed(std::string_view field) {
  return std::string(kSubscriptionInvalid) + "field " + quoted(field) + " cannot be changed.";
}

const char* gen1EventName(const Subscription& s) {
  switch (s.type) {
    case SubscriptionType::kSync: return "http";
    case SubscriptionType::kInvoke: return kInvokeEventType;
    case SubscriptionType::kAsync: return nullptr;
  }
  return nullptr;
}

}  // namespace

bool isValidName(std::string_view name) {
  if (name.empty()) return false;
  for (unsigned char c : name) {
    if (!isNameChar(c)) return false;
  }
  return true;
}

Status checkSpace(std::string_view space) {
  if (space.size() > kMaxNameLength) {
    return Error::invalid("Space is invalid: a space name is at most " +
                          std::to_string(kMaxNameLength) + " bytes long.");
  }
  if (isValidName(space)) return {};
  return Error::invalid("Space " + quoted(space) +
                        " is invalid: only letters, digits, \".\", \"-\" and \"_\" are allowed.");
}

Result<std::string> normalizePath(std::string_view path, std::string_view field) {
  const std::string f = quoted(field);
  std::string out;
  if (path.empty() || path.front() != '/') out.push_back('/');
  out.append(path);
  if (out == "/") return out;

  if (out.size() > kMaxPathLength) return Error::invalid(tooLong(field, kMaxPathLength));
  if (static_cast<std::size_t>(std::count(out.begin(), out.end(), '/')) > kMaxPathSegments) {
    return Error::invalid("Field " + f + " must have at most " + std::to_string(kMaxPathSegments) +
                          " segments.");
  }
  for (unsigned char c : out) {
    if (c < 0x20 || c == 0x7f || c == '?' || c == '#') {
      return Error::invalid("Field " + f + " must not contain '?', '#' or control characters.");
    }
  }
  std::set<std::string_view, std::less<>> params;
  std::string_view rest(out);
  rest.remove_prefix(1);
  while (true) {
    const auto slash = rest.find('/');
    const auto segment = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    // Empty segments ("/a/", "//") are static segments of their own, as in the path tree.
    if (!segment.empty() && (segment.front() == ':' || segment.front() == '*')) {
      const auto name = segment.substr(1);
      if (!isValidName(name)) {
        return Error::invalid("Field " + f + " has an invalid parameter \"" +
                              std::string(segment) +
                              "\": a parameter name is letters, digits, \".\", \"-\" and \"_\".");
      }
      if (segment.front() == '*' && !last) {
        return Error::invalid("Field " + f + " may hold a \"*\" wildcard only as its last segment.");
      }
      if (!params.insert(name).second) {
        return Error::invalid("Field " + f + " uses the parameter name \"" + std::string(name) +
                              "\" twice.");
      }
    }
    if (last) break;
    rest.remove_prefix(slash + 1);
  }
  return out;
}

Result<std::string> normalizeMethod(std::string_view method, std::string_view field) {
  std::string upper(method);
  for (auto& c : upper) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  for (auto m : kMethods) {
    if (upper == m) return upper;
  }
  return Error::invalid("Field " + quoted(field) +
                        " must be one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS.");
}

constexpr std::array<std::string_view, 3> kLimitFields = {"rate", "burst", "concurrency"};

// `limits` of a function (rules in validation.h).
std::optional<FunctionLimits> readLimits(Fields& f) {
  const auto* v = f.find("limits");
  if (!v || f.failed()) return std::nullopt;
  if (!v->is_object()) {
    f.fail("Field \"limits\" must be an object.");
    return std::nullopt;
  }
  Fields inner(v->as_object(), kFunctionInvalid, "limits.");
  inner.rejectUnknown(kLimitFields, "limits are rate, burst and concurrency.");
  FunctionLimits limits;
  if (const auto* rate = inner.find("rate"); rate && !inner.failed()) {
    const double r = rate->is_number() ? rate->to_number<double>() : -1.0;
    if (!(r > 0.0 && r <= static_cast<double>(kMaxFunctionRate))) {
      inner.fail("Field \"limits.rate\" must be a number above 0 and at most " +
                 std::to_string(kMaxFunctionRate) + " (calls per second).");
    } else {
      limits.rate = r;
    }
  }
  limits.burst = inner.optInteger("burst", 1, kMaxFunctionBurst);
  limits.concurrency = inner.optInteger("concurrency", 1, kMaxFunctionConcurrency);
  if (!inner.failed() && limits.burst && !limits.rate) {
    inner.fail("Field \"limits.burst\" needs \"limits.rate\".");
  }
  if (!inner.failed() && !limits.rate && !limits.concurrency) {
    inner.fail("Field \"limits\" must set \"rate\" or \"concurrency\".");
  }
  if (inner.failed()) {
    f.failWith(inner.error());
    return std::nullopt;
  }
  return limits;
}

Result<Function> functionUpdateFromRequest(std::string_view space, std::string_view functionId,
                                           const json::value& body) {
  auto obj = bodyObject(body, kFunctionInvalid);
  if (!obj) return std::move(obj).error();
  Fields f(**obj, kFunctionInvalid);
  Function fn;
  fn.space = space;
  fn.functionId = functionId;

  const auto* provider = f.find("provider");
  // The oldest API put the type inside the provider object.
  if (!f.has("type") && provider && provider->is_object()) {
    const auto* nested = provider->as_object().if_contains("type");
    if (nested && nested->is_string()) fn.type = nested->get_string();
  }
  if (fn.type.empty()) fn.type = f.string("type");
  if (!f.failed()) {
    if (!provider) {
      f.fail(missing("provider"));
    } else if (!provider->is_object()) {
      f.fail("Field \"provider\" must be an object.");
    } else if (json::serialize(*provider).size() > kMaxProviderBytes) {
      // Unknown provider fields are stored as given: only their total is bounded.
      f.fail("Field \"provider\" must be at most " + std::to_string(kMaxProviderBytes) +
             " bytes as JSON.");
    } else {
      fn.provider = provider->as_object();
    }
  }
  fn.metadata = f.metadata();
  fn.limits = readLimits(f);
  if (f.failed()) return f.error();
  return fn;
}

Result<Function> functionFromRequest(std::string_view space, const json::value& body) {
  auto obj = bodyObject(body, kFunctionInvalid);
  if (!obj) return std::move(obj).error();
  Fields f(**obj, kFunctionInvalid);
  auto id = f.name("functionId");
  if (f.failed()) return f.error();
  return functionUpdateFromRequest(space, id, body);
}

Result<EventType> eventTypeUpdateFromRequest(std::string_view space, std::string_view name,
                                             const json::value& body) {
  auto obj = bodyObject(body, kEventTypeInvalid);
  if (!obj) return std::move(obj).error();
  Fields f(**obj, kEventTypeInvalid);
  EventType e;
  e.space = space;
  e.name = name;
  e.authorizerId = f.optName("authorizerId");
  e.authorizerCache = readAuthorizerCache(f, e.authorizerId.has_value());
  e.metadata = f.metadata();
  if (f.failed()) return f.error();
  return e;
}

Result<EventType> eventTypeFromRequest(std::string_view space, const json::value& body) {
  auto obj = bodyObject(body, kEventTypeInvalid);
  if (!obj) return std::move(obj).error();
  Fields f(**obj, kEventTypeInvalid);
  auto name = f.name("name");
  if (f.failed()) return f.error();
  return eventTypeUpdateFromRequest(space, name, body);
}

Result<Subscription> subscriptionFromRequest(std::string_view space, const json::value& body) {
  auto obj = bodyObject(body, kSubscriptionInvalid);
  if (!obj) return std::move(obj).error();
  Fields f(**obj, kSubscriptionInvalid);
  Subscription s;
  s.space = space;

  if (f.has("event")) {
    if (f.has("type") || f.has("eventType")) {
      return invalid(kSubscriptionInvalid,
                     "field \"event\" cannot be combined with \"type\" or \"eventType\".");
    }
    s.generation = Generation::k1;
    const auto event = f.name("event");
    s.functionId = f.name("functionId");
    if (f.failed()) return f.error();
    if (event == "http") {
      s.type = SubscriptionType::kSync;
      s.eventType = kHttpRequestEventType;
      s.method = f.method("method", std::nullopt);
      s.path = f.path("path", false);
      s.cors = readGen1Cors(f);
    } else {
      if (f.has("cors")) {
        return invalid(kSubscriptionInvalid, "field \"cors\" is only allowed with event \"http\".");
      }
      s.type = event == kInvokeEventType ? SubscriptionType::kInvoke : SubscriptionType::kAsync;
      s.eventType = event;
      // Gen 1 custom events and invocations are POSTs; a given method only has to be valid.
      f.method("method", "POST");
      s.method = "POST";
      s.path = f.path("path", false);
    }
  } else {
    const auto* type = f.find("type");
    if (!type) return Error::invalid(std::string(kSubscriptionTypeRequired));
    if (!type->is_string() || (type->get_string() != "sync" && type->get_string() != "async")) {
      return invalid(kSubscriptionInvalid, "Field \"type\" must be \"sync\" or \"async\".");
    }
    s.generation = Generation::k2;
    s.type = type->get_string() == "sync" ? SubscriptionType::kSync : SubscriptionType::kAsync;
    s.eventType = f.name("eventType");
    s.functionId = f.name("functionId");
    s.method = f.method("method", "POST");
    s.path = f.path("path", false);
  }
  s.metadata = f.metadata();
  s.deliveryPolicy = readPolicyOf(f, s);
  s.filters = readFiltersOf(f, s);
  if (f.failed()) return f.error();
  s.subscriptionId = subscriptionId(s);
  return s;
}

Result<Subscription> subscriptionUpdateFromRequest(const Subscription& existing,
                                                   const json::value& body) {
  auto obj = bodyObject(body, kSubscriptionInvalid);
  if (!obj) return std::move(obj).error();
  Fields f(**obj, kSubscriptionInvalid);
  const bool gen1 = existing.generation == Generation::k1;

  if (f.has("event")) {
    const auto event = f.optString("event");
    if (f.failed()) return f.error();
    const char* name = gen1EventName(existing);
    if (!gen1 || *event != (name ? std::string_view(name) : std::string_view(existing.eventType))) {
      return Error::invalid(changed("event"));
    }
  }
  if (f.has("type")) {
    const auto type = f.optString("type");
    if (f.failed()) return f.error();
    const std::string_view current = existing.type == SubscriptionType::kSync ? "sync" : "async";
    if (gen1 || *type != current) return Error::invalid(changed("type"));
  }
  if (f.has("eventType")) {
    const auto eventType = f.optString("eventType");
    if (f.failed()) return f.error();
    if (gen1 || *eventType != existing.eventType) return Error::invalid(changed("eventType"));
  }
  if (f.has("functionId")) {
    const auto id = f.optString("functionId");
    if (f.failed()) return f.error();
    if (*id != existing.functionId) return Error::invalid(changed("functionId"));
  }
  if (f.has("method")) {
    const auto raw = f.optString("method");
    if (f.failed()) return f.error();
    auto m = normalizeMethod(*raw);
    if (!m) return invalid(kSubscriptionInvalid, m.error().message);
    // Gen 1 custom events and invocations ignore the method they were given.
    const bool methodMatters = !gen1 || existing.type == SubscriptionType::kSync;
    if (methodMatters && *m != existing.method) return Error::invalid(changed("method"));
  }
  if (f.has("path")) {
    const auto raw = f.optString("path");
    if (f.failed()) return f.error();
    auto p = normalizePath(*raw);
    if (!p) return invalid(kSubscriptionInvalid, p.error().message);
    if (*p != existing.path) return Error::invalid(changed("path"));
  }
  if (f.has("cors")) {
    auto rules = readGen1Cors(f);
    if (f.failed()) return f.error();
    if (!existing.cors || !sameRules(*rules, *existing.cors)) return Error::invalid(changed("cors"));
  }

  Subscription updated = existing;
  updated.metadata = f.metadata();
  updated.deliveryPolicy = readPolicyOf(f, existing);
  updated.filters = readFiltersOf(f, existing);
  if (f.failed()) return f.error();
  return updated;
}

Result<Cors> corsFromRequest(std::string_view space, const json::value& body) {
  auto obj = bodyObject(body, kCorsInvalid);
  if (!obj) return std::move(obj).error();
  Fields f(**obj, kCorsInvalid);
  Cors c;
  c.space = space;
  c.method = f.method("method", std::nullopt);
  c.path = f.path("path", true);
  c.rules = readRules(f, "allowedOrigins", "allowedMethods", "allowedHeaders");
  c.metadata = f.metadata();
  if (f.failed()) return f.error();
  c.corsId = corsId(c.method, c.path);
  return c;
}

Result<Cors> corsUpdateFromRequest(const Cors& existing, const json::value& body) {
  auto obj = bodyObject(body, kCorsInvalid);
  if (!obj) return std::move(obj).error();
  Fields f(**obj, kCorsInvalid);
  const auto fixed = [](std::string_view field) {
    return Error::invalid(std::string(kCorsInvalid) + "field " + quoted(field) +
                          " cannot be changed.");
  };
  if (f.has("method")) {
    const auto m = f.method("method", existing.method);
    if (f.failed()) return f.error();
    if (m != existing.method) return fixed("method");
  }
  if (f.has("path")) {
    const auto p = f.path("path", false);
    if (f.failed()) return f.error();
    if (p != existing.path) return fixed("path");
  }
  Cors c = existing;
  c.rules = readRules(f, "allowedOrigins", "allowedMethods", "allowedHeaders");
  c.metadata = f.metadata();
  if (f.failed()) return f.error();
  return c;
}

}  // namespace eg::model
