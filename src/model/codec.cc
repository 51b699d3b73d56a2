#include "model/codec.h"

#include <cmath>
#include <cstdint>

#include "common/duration.h"
#include "common/json.h"
#include "model/validation.h"

namespace eg::model {
namespace json = boost::json;
namespace {

// Reads a stored document field by field; the first problem becomes the Error.
class Reader {
 public:
  explicit Reader(std::string_view value) {
    boost::system::error_code ec;
    auto v = parseValue(value, ec);
    if (ec || !v.is_object()) {
      error_ = "stored value is not a JSON object";
    } else {
      object_ = std::move(v.as_object());
    }
  }

  std::string str(std::string_view name) {
    const auto* v = object_.if_contains(name);
    if (!v || !v->is_string()) {
      fail(name);
      return {};
    }
    return std::string(v->get_string());
  }
  std::optional<std::string> optStr(std::string_view name) {
    const auto* v = object_.if_contains(name);
    if (!v) return std::nullopt;
    if (!v->is_string()) {
      fail(name);
      return std::nullopt;
    }
    return std::string(v->get_string());
  }
  json::object obj(std::string_view name) {
    auto* v = object_.if_contains(name);
    if (!v || !v->is_object()) {
      fail(name);
      return {};
    }
    return std::move(v->as_object());
  }
  std::optional<FunctionLimits> limits() {
    const auto* v = object_.if_contains("limits");
    if (!v) return std::nullopt;
    const json::object* o = v->if_object();
    if (o == nullptr) {
      fail("limits");
      return std::nullopt;
    }
    FunctionLimits l;
    if (const auto* rate = o->if_contains("rate")) {
      if (!rate->is_number()) fail("limits.rate");
      else l.rate = rate->to_number<double>();
    }
    for (auto [name, field] : {std::pair{"burst", &l.burst}, {"concurrency", &l.concurrency}}) {
      if (const auto* n = o->if_contains(name)) {
        if (!n->is_int64()) fail(std::string("limits.") + name);
        else *field = n->get_int64();
      }
    }
    return l;
  }
  std::optional<json::array> optArray(std::string_view name) {
    auto* v = object_.if_contains(name);
    if (!v) return std::nullopt;
    if (!v->is_array()) {
      fail(name);
      return std::nullopt;
    }
    return std::move(v->as_array());
  }
  std::optional<Metadata> metadata() {
    const auto* v = object_.if_contains("metadata");
    if (!v) return std::nullopt;
    if (!v->is_object()) {
      fail("metadata");
      return std::nullopt;
    }
    Metadata m;
    for (const auto& [k, val] : v->as_object()) {
      if (!val.is_string()) {
        fail("metadata");
        return std::nullopt;
      }
      m.emplace(std::string(k), std::string(val.get_string()));
    }
    return m;
  }
  // Each field is read back with its type and syntax checked (the limits are validation's):
  // a value written by hand or by another version must not reach the dispatcher half-read.
  std::optional<DeliveryPolicy> deliveryPolicy() {
    const auto* v = object_.if_contains("deliveryPolicy");
    if (!v) return std::nullopt;
    if (!v->is_object()) {
      fail("deliveryPolicy");
      return std::nullopt;
    }
    const auto& o = v->as_object();
    DeliveryPolicy p;
    if (const auto* retries = o.if_contains("retries")) {
      if (retries->is_int64() && retries->get_int64() >= 0 && retries->get_int64() <= kMaxDeliveryRetries) {
        p.retries = static_cast<int>(retries->get_int64());
      } else {
        fail("deliveryPolicy.retries");
      }
    }
    if (const auto* backoff = o.if_contains("backoff")) {
      const auto parsed = backoff->is_string() ? parseBackoff(backoff->get_string()) : std::nullopt;
      if (parsed) {
        p.backoff = *parsed;
      } else {
        fail("deliveryPolicy.backoff");
      }
    }
    p.backoffDelay = duration(o, "backoffDelay");
    p.maxBackoff = duration(o, "maxBackoff");
    p.maxEventAge = duration(o, "maxEventAge");
    if (const auto* dl = o.if_contains("deadLetterFunctionId")) {
      if (dl->is_string()) {
        p.deadLetterFunctionId = std::string(dl->get_string());
      } else {
        fail("deliveryPolicy.deadLetterFunctionId");
      }
    }
    return p;
  }
  std::optional<AuthorizerCache> authorizerCache() {
    const auto* v = object_.if_contains("authorizerCache");
    if (!v) return std::nullopt;
    if (!v->is_object()) {
      fail("authorizerCache");
      return std::nullopt;
    }
    const auto& o = v->as_object();
    AuthorizerCache c;
    const auto* ttl = o.if_contains("ttl");
    std::optional<std::chrono::milliseconds> value;
    if (ttl && ttl->is_string()) {
      if (auto parsed = parseGoDuration(ttl->get_string())) value = *parsed;
    }
    if (value) {
      c.ttl = Duration{std::string(ttl->get_string()), *value};
    } else {
      fail("authorizerCache.ttl");
    }
    if (o.contains("key")) c.key = strings(o, "key");
    return c;
  }
  std::vector<std::string> strings(const json::object& o, std::string_view name) {
    std::vector<std::string> out;
    const auto* v = o.if_contains(name);
    if (!v || !v->is_array()) {
      fail(name);
      return out;
    }
    for (const auto& e : v->as_array()) {
      if (!e.is_string()) {
        fail(name);
        return out;
      }
      out.emplace_back(e.get_string());
    }
    return out;
  }
  bool boolean(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (!v || !v->is_bool()) {
      fail(name);
      return false;
    }
    return v->get_bool();
  }
  const json::object& root() const { return object_; }

  template <class T>
  Result<T> finish(T value) {
    if (!error_.empty()) return Error::internal(error_);
    return value;
  }

 private:
  std::optional<Duration> duration(const json::object& o, std::string_view name) {
    const auto* v = o.if_contains(name);
    if (!v) return std::nullopt;
    const std::string field = "deliveryPolicy." + std::string(name);
    if (!v->is_string()) {
      fail(field);
      return std::nullopt;
    }
    auto value = parseGoDuration(v->get_string());
    if (!value) {
      fail(field);
      return std::nullopt;
    }
    return Duration{std::string(v->get_string()), *value};
  }
  void fail(std::string_view name) {
    if (error_.empty()) error_ = "stored value has a missing or mistyped field \"" + std::string(name) + "\"";
  }
  json::object object_;
  std::string error_;
};

json::object metadataJson(const Metadata& m) {
  json::object o;
  for (const auto& [k, v] : m) o[k] = v;
  return o;
}

json::array stringArray(const std::vector<std::string>& values) {
  json::array a;
  a.reserve(values.size());
  for (const auto& v : values) a.emplace_back(v);
  return a;
}

json::object authorizerCacheJson(const AuthorizerCache& c) {
  json::object o;
  o["ttl"] = c.ttl.text;
  if (c.key) o["key"] = stringArray(*c.key);
  return o;
}

const char* typeName(SubscriptionType t) {
  switch (t) {
    case SubscriptionType::kSync: return "sync";
    case SubscriptionType::kAsync: return "async";
    case SubscriptionType::kInvoke: return "invoke";
  }
  return "async";
}

json::object gen1CorsJson(const CorsRules& r) {
  json::object o;
  o["origins"] = stringArray(r.origins);
  o["methods"] = stringArray(r.methods);
  o["headers"] = stringArray(r.headers);
  o["allowCredentials"] = r.allowCredentials;
  return o;
}

// Only the fields the client set, durations in the text it sent.
json::object deliveryPolicyJson(const DeliveryPolicy& p) {
  json::object o;
  if (p.retries) o["retries"] = *p.retries;
  if (p.backoff) o["backoff"] = backoffName(*p.backoff);
  if (p.backoffDelay) o["backoffDelay"] = p.backoffDelay->text;
  if (p.maxBackoff) o["maxBackoff"] = p.maxBackoff->text;
  if (p.maxEventAge) o["maxEventAge"] = p.maxEventAge->text;
  if (p.deadLetterFunctionId) o["deadLetterFunctionId"] = *p.deadLetterFunctionId;
  return o;
}

}  // namespace

json::object toJson(const Function& f) {
  json::object o;
  o["space"] = f.space;
  o["functionId"] = f.functionId;
  o["type"] = f.type;
  o["provider"] = f.provider;
  if (f.metadata) o["metadata"] = metadataJson(*f.metadata);
  if (f.limits) {
    json::object l;
    if (f.limits->rate) {
      // A whole rate reads back as the integer it was sent as (Boost writes every double
      // in exponent form: 5 would come back as 5E0).
      const double rate = *f.limits->rate;
      if (rate == std::floor(rate)) {
        l["rate"] = static_cast<std::int64_t>(rate);
      } else {
        l["rate"] = rate;
      }
    }
    if (f.limits->burst) l["burst"] = *f.limits->burst;
    if (f.limits->concurrency) l["concurrency"] = *f.limits->concurrency;
    o["limits"] = std::move(l);
  }
  return o;
}

json::object toJson(const EventType& e) {
  json::object o;
  o["space"] = e.space;
  o["name"] = e.name;
  if (e.authorizerId) o["authorizerId"] = *e.authorizerId;
  if (e.authorizerCache) o["authorizerCache"] = authorizerCacheJson(*e.authorizerCache);
  if (e.metadata) o["metadata"] = metadataJson(*e.metadata);
  return o;
}

json::object toJson(const Subscription& s) {
  json::object o;
  o["space"] = s.space;
  o["subscriptionId"] = s.subscriptionId;
  if (s.generation == Generation::k2) {
    o["type"] = typeName(s.type);
    o["eventType"] = s.eventType;
    o["functionId"] = s.functionId;
    o["method"] = s.method;
    o["path"] = s.path;
  } else {
    switch (s.type) {
      case SubscriptionType::kSync: o["event"] = "http"; break;
      case SubscriptionType::kInvoke: o["event"] = "invoke"; break;
      case SubscriptionType::kAsync: o["event"] = s.eventType; break;
    }
    o["functionId"] = s.functionId;
    if (s.type == SubscriptionType::kSync) o["method"] = s.method;
    o["path"] = s.path;
    if (s.cors) o["cors"] = gen1CorsJson(*s.cors);
  }
  if (s.metadata) o["metadata"] = metadataJson(*s.metadata);
  if (s.deliveryPolicy) o["deliveryPolicy"] = deliveryPolicyJson(*s.deliveryPolicy);
  if (s.filters) o["filters"] = *s.filters;
  return o;
}

json::object toJson(const Cors& c) {
  json::object o;
  o["space"] = c.space;
  o["corsId"] = c.corsId;
  o["method"] = c.method;
  o["path"] = c.path;
  o["allowedOrigins"] = stringArray(c.rules.origins);
  o["allowedMethods"] = stringArray(c.rules.methods);
  o["allowedHeaders"] = stringArray(c.rules.headers);
  o["allowCredentials"] = c.rules.allowCredentials;
  if (c.metadata) o["metadata"] = metadataJson(*c.metadata);
  return o;
}

const char* backoffName(Backoff b) {
  switch (b) {
    case Backoff::kExponential: return "exponential";
    case Backoff::kLinear: return "linear";
    case Backoff::kConstant: return "constant";
  }
  return "exponential";
}

std::optional<Backoff> parseBackoff(std::string_view name) {
  if (name == "exponential") return Backoff::kExponential;
  if (name == "linear") return Backoff::kLinear;
  if (name == "constant") return Backoff::kConstant;
  return std::nullopt;
}

std::string encodeStored(const Function& f) { return json::serialize(toJson(f)); }
std::string encodeStored(const EventType& e) { return json::serialize(toJson(e)); }
std::string encodeStored(const Cors& c) { return json::serialize(toJson(c)); }

std::string encodeStored(const Subscription& s) {
  json::object o;
  o["space"] = s.space;
  o["subscriptionId"] = s.subscriptionId;
  o["generation"] = s.generation == Generation::k1 ? 1 : 2;
  o["type"] = typeName(s.type);
  o["eventType"] = s.eventType;
  o["functionId"] = s.functionId;
  o["method"] = s.method;
  o["path"] = s.path;
  if (s.metadata) o["metadata"] = metadataJson(*s.metadata);
  if (s.cors) o["cors"] = gen1CorsJson(*s.cors);
  if (s.deliveryPolicy) o["deliveryPolicy"] = deliveryPolicyJson(*s.deliveryPolicy);
  if (s.filters) o["filters"] = *s.filters;
  return json::serialize(o);
}

Result<Function> decodeStoredFunction(std::string_view value) {
  Reader r(value);
  Function f;
  f.space = r.str("space");
  f.functionId = r.str("functionId");
  f.type = r.str("type");
  f.provider = r.obj("provider");
  f.metadata = r.metadata();
  f.limits = r.limits();
  return r.finish(std::move(f));
}

Result<EventType> decodeStoredEventType(std::string_view value) {
  Reader r(value);
  EventType e;
  e.space = r.str("space");
  e.name = r.str("name");
  e.authorizerId = r.optStr("authorizerId");
  e.authorizerCache = r.authorizerCache();
  e.metadata = r.metadata();
  return r.finish(std::move(e));
}

Result<Subscription> decodeStoredSubscription(std::string_view value) {
  Reader r(value);
  Subscription s;
  s.space = r.str("space");
  s.subscriptionId = r.str("subscriptionId");
  const auto* gen = r.root().if_contains("generation");
  s.generation = (gen && gen->is_int64() && gen->get_int64() == 1) ? Generation::k1 : Generation::k2;
  const auto type = r.str("type");
  s.type = type == "sync" ? SubscriptionType::kSync
           : type == "invoke" ? SubscriptionType::kInvoke
                              : SubscriptionType::kAsync;
  s.eventType = r.str("eventType");
  s.functionId = r.str("functionId");
  s.method = r.str("method");
  s.path = r.str("path");
  s.metadata = r.metadata();
  if (r.root().contains("cors")) {
    const auto cors = r.obj("cors");
    CorsRules rules;
    rules.origins = r.strings(cors, "origins");
    rules.methods = r.strings(cors, "methods");
    rules.headers = r.strings(cors, "headers");
    rules.allowCredentials = r.boolean(cors, "allowCredentials");
    s.cors = std::move(rules);
  }
  s.deliveryPolicy = r.deliveryPolicy();
  s.filters = r.optArray("filters");
  return r.finish(std::move(s));
}

Result<Cors> decodeStoredCors(std::string_view value) {
  Reader r(value);
  Cors c;
  c.space = r.str("space");
  c.corsId = r.str("corsId");
  c.method = r.str("method");
  c.path = r.str("path");
  const auto& root = r.root();
  c.rules.origins = r.strings(root, "allowedOrigins");
  c.rules.methods = r.strings(root, "allowedMethods");
  c.rules.headers = r.strings(root, "allowedHeaders");
  c.rules.allowCredentials = r.boolean(root, "allowCredentials");
  c.metadata = r.metadata();
  return r.finish(std::move(c));
}

}  // namespace eg::model
