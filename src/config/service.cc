#include "config/service.h"

#include <spdlog/spdlog.h>

#include "config/retry_until_deadline.h"
#include "model/codec.h"
#include "model/keys.h"
#include "model/validation.h"
#include "providers/weighted/weighted_provider.h"

namespace eg::config {
namespace {

using model::ResourceKind;

std::string q(std::string_view s) { return "\"" + std::string(s) + "\""; }

Error functionNotFound(std::string_view id) { return Error::notFound("Function " + q(id) + " not found."); }
Error eventTypeNotFound(std::string_view name) {
  return Error::notFound("Event Type " + q(name) + " not found.");
}
Error subscriptionNotFound(std::string_view id) {
  return Error::notFound("Subscription " + q(id) + " not found.");
}
Error corsNotFound(std::string_view id) {
  return Error::notFound("CORS configuration " + q(id) + " not found.");
}
Error subscriptionExists(std::string_view id) {
  return Error::alreadyExists("Subscription " + q(id) + " already exists.");
}
// A reference from the request to a resource that is missing is the client's mistake.
Error asInvalid(Error e) { return Error::invalid(std::move(e.message)); }

Error raceLost(std::string_view what) {
  return Error::unavailable(std::string(what) +
                            " could not be saved: the configuration kept changing concurrently. "
                            "Please try again.");
}

using model::checkSpace;

std::string key(ResourceKind kind, std::string_view space, std::string_view id) {
  return model::resourceKey(kind, space, id);
}

// Whether a subscription needs its event type registered (and so keeps it in use).
bool usesEventType(const model::Subscription& s) {
  return s.generation == model::Generation::k2 || s.type == model::SubscriptionType::kAsync;
}

// The dead-letter function a subscription names, or "" (never a valid function ID).
std::string_view deadLetterOf(const model::Subscription& s) {
  if (!s.deliveryPolicy || !s.deliveryPolicy->deadLetterFunctionId) return {};
  return *s.deliveryPolicy->deadLetterFunctionId;
}

Error deadLetterNotFound(std::string_view id) {
  return Error::invalid("Dead-letter function " + q(id) + " not found.");
}

Error authorizerNotFound(std::string_view id) {
  return Error::invalid("Authorizer function " + q(id) + " not found.");
}

bool isWeighted(const model::Function& fn) { return fn.type == providers::kWeightedType; }

// The resource of one stored value of a collection, or nullopt: a key of another
// collection or space (a prefix may reach further), or a value that does not decode,
// which is logged (it cannot have been written by this API).
template <class T, class Decode>
std::optional<T> decodeEntry(const store::KeyValue& kv, ResourceKind kind, std::string_view space,
                             Decode decode) {
  const auto parsed = model::parseKey(kv.key);
  if (!parsed || parsed->kind != kind || parsed->space != space) return std::nullopt;
  auto value = decode(kv.value);
  if (!value) {
    spdlog::warn("config: skipping undecodable value at {}: {}", kv.key, value.error().message);
    return std::nullopt;
  }
  return std::move(*value);
}

// Decodes every value of one collection, skipping what decodeEntry skips.
template <class T, class Decode>
std::vector<T> decodeAll(const store::RangeResult& range, ResourceKind kind, std::string_view space,
                         Decode decode) {
  std::vector<T> out;
  out.reserve(range.kvs.size());
  for (const auto& kv : range.kvs) {
    if (auto value = decodeEntry<T>(kv, kind, space, decode)) out.push_back(std::move(*value));
  }
  return out;
}

// Gives the string's memory back (assigning an empty string would keep it).
void release(std::string& s) { std::string().swap(s); }

template <class T>
Result<T> decodedOrInternal(Result<T> r, std::string_view key) {
  if (!r) {
    spdlog::error("config: stored value at {} does not decode: {}", key, r.error().message);
    return Error::internal("Stored configuration at " + std::string(key) + " is corrupt.");
  }
  return r;
}

// What get, list and (for the kinds deleted with checks) deleteResource need to know of
// each resource kind.
template <class T>
struct Resource;
template <>
struct Resource<model::Function> {
  static constexpr ResourceKind kKind = ResourceKind::kFunction;
  static constexpr std::string_view kName = "Function";
  static constexpr std::string_view kLogName = "function";
  static constexpr std::string_view kIdName = "functionId";
  static Result<model::Function> decode(std::string_view v) { return model::decodeStoredFunction(v); }
  static Error notFound(std::string_view id) { return functionNotFound(id); }
};
template <>
struct Resource<model::EventType> {
  static constexpr ResourceKind kKind = ResourceKind::kEventType;
  static constexpr std::string_view kName = "Event Type";
  static constexpr std::string_view kLogName = "event type";
  static constexpr std::string_view kIdName = "name";
  static Result<model::EventType> decode(std::string_view v) { return model::decodeStoredEventType(v); }
  static Error notFound(std::string_view id) { return eventTypeNotFound(id); }
};
template <>
struct Resource<model::Subscription> {
  static constexpr ResourceKind kKind = ResourceKind::kSubscription;
  static constexpr std::string_view kName = "Subscription";
  static constexpr std::string_view kLogName = "subscription";
  static constexpr std::string_view kIdName = "subscriptionId";
  static Result<model::Subscription> decode(std::string_view v) {
    return model::decodeStoredSubscription(v);
  }
  static Error notFound(std::string_view id) { return subscriptionNotFound(id); }
};
template <>
struct Resource<model::Cors> {
  static constexpr ResourceKind kKind = ResourceKind::kCors;
  static constexpr std::string_view kName = "CORS configuration";
  static constexpr std::string_view kLogName = "CORS configuration";
  static constexpr std::string_view kIdName = "corsId";
  static Result<model::Cors> decode(std::string_view v) { return model::decodeStoredCors(v); }
  static Error notFound(std::string_view id) { return corsNotFound(id); }
};

store::Op putOp(std::string k, std::string v) {
  return store::Op{store::Op::Type::kPut, std::move(k), std::move(v)};
}
store::Op deleteOp(std::string k) { return store::Op{store::Op::Type::kDelete, std::move(k), {}}; }

const char* typeName(model::SubscriptionType t) {
  switch (t) {
    case model::SubscriptionType::kSync: return "sync";
    case model::SubscriptionType::kAsync: return "async";
    case model::SubscriptionType::kInvoke: return "invoke";
  }
  return "?";
}

}  // namespace

bool matchesFilters(const Boxed<model::Metadata>& metadata, const MetadataFilters& filters) {
  if (filters.empty()) return true;
  if (!metadata) return false;
  for (const auto& [k, v] : filters) {
    const auto it = metadata->find(k);
    if (it == metadata->end() || it->second != v) return false;
  }
  return true;
}

Error storeError(const Error& e) {
  if (e.kind == ErrorKind::kUnavailable || e.kind == ErrorKind::kTimeout) {
    spdlog::warn("config: store unavailable: {}", e.message);
    return Error::unavailable("Configuration store unavailable: " + e.message);
  }
  spdlog::error("config: store error ({}): {}", errorKindName(e.kind), e.message);
  return Error::internal("Configuration store error: " + e.message);
}

ConfigService::ConfigService(store::Store& store, SyncRouteIndex& routes,
                             const providers::ProviderRegistry& providers)
    : store_(store), routes_(routes), providers_(providers) {}

asio::awaitable<std::optional<WriteQueue::Turn>> ConfigService::writeTurn() {
  if (!store_.soleWriter()) co_return std::nullopt;
  co_return co_await writes_.turn();
}

asio::awaitable<Result<store::TxnResult>> ConfigService::commit(
    std::optional<WriteQueue::Turn>& turn, std::vector<store::Compare> compares,
    std::vector<store::Op> ops) {
  auto r = co_await store_.txnApplied(std::move(compares), std::move(ops));
  if (!r || !r->succeeded) co_return r;
  turn.reset();
  if (auto s = co_await store_.durable(r->revision); !s) co_return std::move(s).error();
  co_return r;
}

asio::awaitable<Result<std::optional<store::KeyValue>>> ConfigService::read(std::string k) {
  auto r = co_await store_.get(std::move(k));
  if (!r) co_return storeError(r.error());
  co_return std::move(r);
}

asio::awaitable<Result<store::RangeResult>> ConfigService::readAll(std::string prefix) {
  auto r = co_await store_.list(std::move(prefix));
  if (!r) co_return storeError(r.error());
  co_return std::move(r);
}

template <class T>
asio::awaitable<Result<T>> ConfigService::getResource(std::string space, std::string id) {
  const auto k = key(Resource<T>::kKind, space, id);
  auto current = co_await read(k);
  if (!current) co_return std::move(current).error();
  if (!*current) co_return Resource<T>::notFound(id);
  co_return decodedOrInternal(Resource<T>::decode((*current)->value), k);
}

template <class T>
ResourceList<T>::ResourceList(store::RangeResult range, std::string space, MetadataFilters filters)
    : range_(std::move(range)), space_(std::move(space)), filters_(std::move(filters)) {}

template <class T>
std::optional<T> ResourceList<T>::take() {
  store::KeyValue& kv = range_.kvs[next_++];
  auto item = decodeEntry<T>(kv, Resource<T>::kKind, space_, &Resource<T>::decode);
  // A long list gives its memory back as it goes, not all at once at its end.
  release(kv.key);
  release(kv.value);
  if (item && !matchesFilters(item->metadata, filters_)) return std::nullopt;
  return item;
}

template class ResourceList<model::Function>;
template class ResourceList<model::EventType>;
template class ResourceList<model::Subscription>;
template class ResourceList<model::Cors>;

template <class T>
asio::awaitable<Result<ResourceList<T>>> ConfigService::listResources(std::string space,
                                                                      MetadataFilters filters) {
  auto range = co_await readAll(model::collectionPrefix(Resource<T>::kKind, space));
  if (!range) co_return std::move(range).error();
  co_return ResourceList<T>(std::move(*range), std::move(space), std::move(filters));
}

Status ConfigService::validateProvider(const model::Function& fn) const {
  const auto* factory = providers_.find(fn.type);
  if (!factory) {
    return Error::invalid(std::string(model::kFunctionInvalid) + "Field \"type\" has an unknown function type " +
                          q(fn.type) + ".");
  }
  auto status = factory->validate(fn.provider);
  if (!status) {
    const auto& message = status.error().message;
    if (message.starts_with("Function doesn't validate")) return Error::invalid(message);
    return Error::invalid(std::string(model::kFunctionInvalid) + message);
  }
  return {};
}

// ---- functions ----

asio::awaitable<Result<model::Function>> ConfigService::createFunction(std::string space,
                                                                       boost::json::value body) {
  if (auto s = checkSpace(space); !s) co_return std::move(s).error();
  auto fn = model::functionFromRequest(space, body);
  if (!fn) co_return std::move(fn).error();
  if (auto s = validateProvider(*fn); !s) co_return std::move(s).error();
  const auto k = key(ResourceKind::kFunction, space, fn->functionId);
  const auto exists = [&] {
    return Error::alreadyExists("Function " + q(fn->functionId) + " already registered.");
  };
  const auto created = [&] {
    // Provider fields are never logged: they may hold credentials.
    spdlog::info("config: function created (space={}, functionId={}, type={})", space,
                 fn->functionId, fn->type);
  };
  auto turn = co_await writeTurn();
  if (!isWeighted(*fn)) {
    std::vector<store::Compare> compares{{k, 0}};
    std::vector<store::Op> ops{putOp(k, model::encodeStored(*fn))};
    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (!r->succeeded) co_return exists();
    created();
    co_return fn;
  }
  // A weighted function is written on the condition that its targets are as checked.
  for (RetryUntilDeadline retry(kWriteDeadline); co_await retry.next();) {
    auto current = co_await read(k);
    if (!current) co_return std::move(current).error();
    if (*current) co_return exists();
    std::vector<store::Compare> compares{{k, 0}};
    std::vector<store::Op> ops{putOp(k, model::encodeStored(*fn))};
    if (auto pinned = co_await pinTargets(*fn, compares); !pinned) co_return pinned.error();
    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (r->succeeded) {
      created();
      co_return fn;
    }
  }
  co_return raceLost("Function " + q(fn->functionId));
}

asio::awaitable<Result<model::Function>> ConfigService::updateFunction(std::string space,
                                                                       std::string id,
                                                                       boost::json::value body) {
  auto fn = model::functionUpdateFromRequest(space, id, body);
  if (!fn) co_return std::move(fn).error();
  const auto k = key(ResourceKind::kFunction, space, id);
  auto turn = co_await writeTurn();
  for (RetryUntilDeadline retry(kWriteDeadline); co_await retry.next();) {
    auto current = co_await read(k);
    if (!current) co_return std::move(current).error();
    if (!*current) co_return functionNotFound(id);
    // Checked after existence, so that a missing function is a 404 whatever the body.
    if (auto s = validateProvider(*fn); !s) co_return std::move(s).error();
    std::vector<store::Compare> compares{{k, (*current)->modRevision}};
    std::vector<store::Op> ops{putOp(k, model::encodeStored(*fn))};
    if (isWeighted(*fn)) {
      // A weighted function may not be the target of another: refused while one calls it.
      auto untargeted = co_await refuseIfTargeted(space, id, "be made weighted", compares);
      if (!untargeted) co_return untargeted.error();
      if (auto pinned = co_await pinTargets(*fn, compares); !pinned) co_return pinned.error();
    }
    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (r->succeeded) {
      spdlog::info("config: function updated (space={}, functionId={}, type={})", space, id, fn->type);
      co_return fn;
    }
  }
  co_return raceLost("Function " + q(id));
}

// Deletes a resource once `check` allows it. `check` reads what it needs, adds the
// delete's extra compares and ops and answers the error that refuses it, if any. The
// delete is conditional on what was read: a write in between (a new user of the
// resource, say) fails it and the next attempt sees that write.
template <class T, class Check>
asio::awaitable<Status> ConfigService::deleteResource(std::string space, std::string id,
                                                      Check check) {
  const auto k = key(Resource<T>::kKind, space, id);
  auto turn = co_await writeTurn();
  for (RetryUntilDeadline retry(kWriteDeadline); co_await retry.next();) {
    auto current = co_await read(k);
    if (!current) co_return std::move(current).error();
    if (!*current) co_return Resource<T>::notFound(id);
    std::vector<store::Compare> compares{{k, (*current)->modRevision}};
    std::vector<store::Op> ops{deleteOp(k)};
    if (auto allowed = co_await check(**current, compares, ops); !allowed) co_return allowed;
    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (r->succeeded) {
      spdlog::info("config: {} deleted (space={}, {}={})", Resource<T>::kLogName, space,
                   Resource<T>::kIdName, id);
      co_return Status{};
    }
  }
  co_return raceLost(std::string(Resource<T>::kName) + " " + q(id));
}

template <class Uses>
asio::awaitable<Status> ConfigService::refuseIfSubscribed(std::string space, std::string what,
                                                          Uses uses,
                                                          std::vector<store::Compare>& compares) {
  const auto prefix = model::collectionPrefix(ResourceKind::kSubscription, space);
  auto range = co_await readAll(prefix);
  if (!range) co_return std::move(range).error();
  for (const auto& s : decodeAll<model::Subscription>(*range, ResourceKind::kSubscription, space,
                                                      &Resource<model::Subscription>::decode)) {
    if (const std::optional<std::string_view> how = uses(s)) {
      co_return Error::invalid(what + " cannot be deleted because subscription " +
                               q(s.subscriptionId) + " " + std::string(*how) + ".");
    }
  }
  compares.push_back({prefix, range->revision, true});
  co_return Status{};
}

asio::awaitable<Status> ConfigService::pinFunction(std::string space, std::string id,
                                                   Error missing,
                                                   std::vector<store::Compare>& compares) {
  const auto fk = key(ResourceKind::kFunction, space, id);
  for (const auto& c : compares) {
    if (c.key == fk) co_return Status{};
  }
  auto fn = co_await read(fk);
  if (!fn) co_return std::move(fn).error();
  if (!*fn) co_return missing;
  compares.push_back({fk, (*fn)->modRevision});
  co_return Status{};
}

asio::awaitable<Status> ConfigService::pinTargets(const model::Function& fn,
                                                  std::vector<store::Compare>& compares) {
  if (!isWeighted(fn)) co_return Status{};
  auto settings = providers::parseWeightedProvider(fn.provider);
  if (!settings) co_return std::move(settings).error();  // validateProvider accepted it
  for (const auto& target : settings->functions) {
    if (target.functionId == fn.functionId) {
      co_return Error::invalid("Weighted function " + q(fn.functionId) + " cannot call itself.");
    }
  }
  for (const auto& target : settings->functions) {
    const auto tk = key(ResourceKind::kFunction, fn.space, target.functionId);
    auto stored = co_await read(tk);
    if (!stored) co_return std::move(stored).error();
    if (!*stored) co_return Error::invalid("Target function " + q(target.functionId) + " not found.");
    auto decoded = decodedOrInternal(model::decodeStoredFunction((*stored)->value), tk);
    if (!decoded) co_return std::move(decoded).error();
    if (isWeighted(*decoded)) {
      co_return Error::invalid("Target function " + q(target.functionId) +
                               " is weighted: a weighted function calls functions that are not "
                               "weighted.");
    }
    // Targets are distinct (validated), so each key is compared once.
    compares.push_back({tk, (*stored)->modRevision});
  }
  co_return Status{};
}

asio::awaitable<Status> ConfigService::refuseIfTargeted(std::string space, std::string id,
                                                        std::string_view action,
                                                        std::vector<store::Compare>& compares) {
  const auto prefix = model::collectionPrefix(ResourceKind::kFunction, space);
  auto range = co_await readAll(prefix);
  if (!range) co_return std::move(range).error();
  for (const auto& f : decodeAll<model::Function>(*range, ResourceKind::kFunction, space,
                                                  &Resource<model::Function>::decode)) {
    if (f.functionId != id && isWeighted(f) && providers::namesTarget(f.provider, id)) {
      co_return Error::invalid("Function " + q(id) + " cannot " + std::string(action) +
                               " because weighted function " + q(f.functionId) + " calls it.");
    }
  }
  compares.push_back({prefix, range->revision, true});
  co_return Status{};
}

asio::awaitable<Status> ConfigService::deleteFunction(std::string space, std::string id) {
  co_return co_await deleteResource<model::Function>(
      space, id,
      [&](const store::KeyValue&, std::vector<store::Compare>& compares,
          std::vector<store::Op>&) -> asio::awaitable<Status> {
        auto unused = co_await refuseIfSubscribed(
            space, "Function " + q(id),
            [&](const model::Subscription& s) -> std::optional<std::string_view> {
              if (s.functionId == id) return "uses it";
              if (deadLetterOf(s) == id) return "uses it as its dead-letter function";
              return std::nullopt;
            },
            compares);
        if (!unused) co_return unused;
        auto untargeted = co_await refuseIfTargeted(space, id, "be deleted", compares);
        if (!untargeted) co_return untargeted;
        const auto typesPrefix = model::collectionPrefix(ResourceKind::kEventType, space);
        auto types = co_await readAll(typesPrefix);
        if (!types) co_return std::move(types).error();
        for (const auto& e : decodeAll<model::EventType>(*types, ResourceKind::kEventType, space,
                                                         &Resource<model::EventType>::decode)) {
          if (e.authorizerId && *e.authorizerId == id) {
            co_return Error::invalid("Function " + q(id) +
                                     " cannot be deleted because it is the authorizer of event "
                                     "type " +
                                     q(e.name) + ".");
          }
        }
        // An event type that names it after this check fails the delete.
        compares.push_back({typesPrefix, types->revision, true});
        co_return Status{};
      });
}

asio::awaitable<Result<model::Function>> ConfigService::getFunction(std::string space,
    std::string id) {
  return getResource<model::Function>(std::move(space), std::move(id));
}

asio::awaitable<Result<ResourceList<model::Function>>> ConfigService::listFunctions(
    std::string space, MetadataFilters filters) {
  return listResources<model::Function>(std::move(space), std::move(filters));
}

// ---- event types ----

asio::awaitable<Result<model::EventType>> ConfigService::createEventType(std::string space,
                                                                         boost::json::value body) {
  if (auto s = checkSpace(space); !s) co_return std::move(s).error();
  auto et = model::eventTypeFromRequest(space, body);
  if (!et) co_return std::move(et).error();
  const auto k = key(ResourceKind::kEventType, space, et->name);
  const auto exists = [&] {
    return Error::alreadyExists("Event Type " + q(et->name) + " already exists.");
  };
  auto turn = co_await writeTurn();
  for (RetryUntilDeadline retry(kWriteDeadline); co_await retry.next();) {
    std::vector<store::Compare> compares{{k, 0}};
    std::vector<store::Op> ops{putOp(k, model::encodeStored(*et))};
    if (et->authorizerId) {
      auto pinned = co_await pinFunction(space, *et->authorizerId,
                                         authorizerNotFound(*et->authorizerId), compares);
      if (!pinned) co_return std::move(pinned).error();
    }
    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (r->succeeded) {
      spdlog::info("config: event type created (space={}, name={})", space, et->name);
      co_return et;
    }
    auto current = co_await read(k);
    if (!current) co_return std::move(current).error();
    if (*current) co_return exists();
  }
  co_return raceLost("Event Type " + q(et->name));
}

asio::awaitable<Result<model::EventType>> ConfigService::updateEventType(std::string space,
                                                                         std::string name,
                                                                         boost::json::value body) {
  auto et = model::eventTypeUpdateFromRequest(space, name, body);
  if (!et) co_return std::move(et).error();
  const auto k = key(ResourceKind::kEventType, space, name);
  auto turn = co_await writeTurn();
  for (RetryUntilDeadline retry(kWriteDeadline); co_await retry.next();) {
    auto current = co_await read(k);
    if (!current) co_return std::move(current).error();
    if (!*current) co_return eventTypeNotFound(name);
    std::vector<store::Compare> compares{{k, (*current)->modRevision}};
    std::vector<store::Op> ops{putOp(k, model::encodeStored(*et))};
    if (et->authorizerId) {
      auto pinned = co_await pinFunction(space, *et->authorizerId,
                                         authorizerNotFound(*et->authorizerId), compares);
      if (!pinned) co_return std::move(pinned).error();
    }
    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (r->succeeded) {
      spdlog::info("config: event type updated (space={}, name={})", space, name);
      co_return et;
    }
  }
  co_return raceLost("Event Type " + q(name));
}

asio::awaitable<Status> ConfigService::deleteEventType(std::string space, std::string name) {
  co_return co_await deleteResource<model::EventType>(
      space, name,
      [&](const store::KeyValue&, std::vector<store::Compare>& compares,
          std::vector<store::Op>&) -> asio::awaitable<Status> {
        co_return co_await refuseIfSubscribed(
            space, "Event Type " + q(name),
            [&](const model::Subscription& s) -> std::optional<std::string_view> {
              if (s.eventType == name && usesEventType(s)) return "uses it";
              return std::nullopt;
            },
            compares);
      });
}

asio::awaitable<Result<model::EventType>> ConfigService::getEventType(std::string space,
    std::string name) {
  return getResource<model::EventType>(std::move(space), std::move(name));
}

asio::awaitable<Result<ResourceList<model::EventType>>> ConfigService::listEventTypes(
    std::string space, MetadataFilters filters) {
  return listResources<model::EventType>(std::move(space), std::move(filters));
}

// ---- subscriptions ----

asio::awaitable<Result<model::Subscription>> ConfigService::createSubscription(
    std::string space, boost::json::value body) {
  if (auto s = checkSpace(space); !s) co_return std::move(s).error();
  auto parsed = model::subscriptionFromRequest(space, body);
  if (!parsed) co_return std::move(parsed).error();
  const auto& sub = *parsed;
  const auto k = key(ResourceKind::kSubscription, space, sub.subscriptionId);
  const bool sync = sub.type == model::SubscriptionType::kSync;
  const std::string sentinel(model::kRoutesSentinelKey);

  auto turn = co_await writeTurn();
  for (RetryUntilDeadline retry(kWriteDeadline); co_await retry.next();) {
    auto existing = co_await read(k);
    if (!existing) co_return std::move(existing).error();
    if (*existing) co_return subscriptionExists(sub.subscriptionId);

    std::vector<store::Compare> compares{{k, 0}};
    std::vector<store::Op> ops{putOp(k, model::encodeStored(sub))};

    // The referenced functions and event type must be unchanged when this commits: a
    // delete that commits first fails these compares; one that commits later sees this
    // subscription (see refuseIfSubscribed).
    auto pinned = co_await pinFunction(space, sub.functionId,
                                       asInvalid(functionNotFound(sub.functionId)), compares);
    if (!pinned) co_return std::move(pinned).error();
    if (const auto deadLetter = deadLetterOf(sub); !deadLetter.empty()) {
      pinned = co_await pinFunction(space, std::string(deadLetter), deadLetterNotFound(deadLetter),
                                    compares);
      if (!pinned) co_return std::move(pinned).error();
    }

    if (usesEventType(sub)) {
      const auto ek = key(ResourceKind::kEventType, space, sub.eventType);
      auto et = co_await read(ek);
      if (!et) co_return std::move(et).error();
      if (*et) {
        compares.push_back({ek, (*et)->modRevision});
      } else if (sub.generation == model::Generation::k2) {
        co_return asInvalid(eventTypeNotFound(sub.eventType));
      } else {
        // Gen 1 custom events register their event type implicitly.
        model::EventType implicit;
        implicit.space = space;
        implicit.name = sub.eventType;
        compares.push_back({ek, 0});
        ops.push_back(putOp(ek, model::encodeStored(implicit)));
      }
    }

    int64_t routesRevision = 0;
    if (sync) {
      auto check = routes_.checkSyncRoute(sub);
      if (!check.status) {
        if (check.status.error().kind == ErrorKind::kAlreadyExists) {
          co_return subscriptionExists(sub.subscriptionId);
        }
        const auto& message = check.status.error().message;
        if (message.starts_with("Subscription")) co_return Error::invalid(message);
        co_return Error::invalid("Subscription path conflict: " + message);
      }
      routesRevision = check.routesModRevision;
      compares.push_back({sentinel, routesRevision});
      ops.push_back(putOp(sentinel, sub.subscriptionId));
    }

    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (r->succeeded) {
      spdlog::info(
          "config: subscription created (space={}, subscriptionId={}, type={}, eventType={}, "
          "functionId={}, method={}, path={})",
          space, sub.subscriptionId, typeName(sub.type), sub.eventType, sub.functionId, sub.method,
          sub.path);
      co_return sub;
    }
    if (sync) {
      // Another sync route was committed since the index answered: let the index catch
      // up with it, then check again.
      auto current = co_await read(sentinel);
      if (!current) co_return std::move(current).error();
      const int64_t latest = *current ? (*current)->modRevision : 0;
      if (latest != routesRevision) co_await routes_.waitForRevision(latest, kIndexWait);
    }
  }
  co_return raceLost("Subscription " + q(sub.subscriptionId));
}

asio::awaitable<Result<model::Subscription>> ConfigService::updateSubscription(
    std::string space, std::string id, boost::json::value body) {
  const auto k = key(ResourceKind::kSubscription, space, id);
  auto turn = co_await writeTurn();
  for (RetryUntilDeadline retry(kWriteDeadline); co_await retry.next();) {
    auto current = co_await read(k);
    if (!current) co_return std::move(current).error();
    if (!*current) co_return subscriptionNotFound(id);
    auto existing = decodedOrInternal(model::decodeStoredSubscription((*current)->value), k);
    if (!existing) co_return std::move(existing).error();
    auto updated = model::subscriptionUpdateFromRequest(*existing, body);
    if (!updated) co_return std::move(updated).error();
    // A transaction, so that the dead-letter function named (if any) is pinned as on create.
    std::vector<store::Compare> compares{{k, (*current)->modRevision}};
    std::vector<store::Op> ops{putOp(k, model::encodeStored(*updated))};
    if (const auto deadLetter = deadLetterOf(*updated); !deadLetter.empty()) {
      auto pinned = co_await pinFunction(space, std::string(deadLetter),
                                         deadLetterNotFound(deadLetter), compares);
      if (!pinned) co_return std::move(pinned).error();
    }
    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (r->succeeded) {
      spdlog::info("config: subscription updated (space={}, subscriptionId={})", space, id);
      co_return updated;
    }
  }
  co_return raceLost("Subscription " + q(id));
}

asio::awaitable<Status> ConfigService::deleteSubscription(std::string space, std::string id) {
  co_return co_await deleteResource<model::Subscription>(
      space, id,
      [&](const store::KeyValue& current, std::vector<store::Compare>&,
          std::vector<store::Op>& ops) -> asio::awaitable<Status> {
        // Removing a sync route is a route change too (keys.h: the sentinel moves with each).
        auto existing = model::decodeStoredSubscription(current.value);
        if (!existing || existing->type == model::SubscriptionType::kSync) {
          ops.push_back(putOp(std::string(model::kRoutesSentinelKey), id));
        }
        co_return Status{};
      });
}

asio::awaitable<Result<model::Subscription>> ConfigService::getSubscription(std::string space,
    std::string id) {
  return getResource<model::Subscription>(std::move(space), std::move(id));
}

asio::awaitable<Result<ResourceList<model::Subscription>>> ConfigService::listSubscriptions(
    std::string space, MetadataFilters filters) {
  return listResources<model::Subscription>(std::move(space), std::move(filters));
}

// ---- CORS ----

asio::awaitable<Result<model::Cors>> ConfigService::createCors(std::string space,
                                                               boost::json::value body) {
  if (auto s = checkSpace(space); !s) co_return std::move(s).error();
  auto c = model::corsFromRequest(space, body);
  if (!c) co_return std::move(c).error();
  const auto k = key(ResourceKind::kCors, space, c->corsId);
  auto turn = co_await writeTurn();
  std::vector<store::Compare> compares{{k, 0}};
  std::vector<store::Op> ops{putOp(k, model::encodeStored(*c))};
  auto r = co_await commit(turn, std::move(compares), std::move(ops));
  if (!r) co_return storeError(r.error());
  if (!r->succeeded) {
    co_return Error::alreadyExists("CORS configuration " + q(c->corsId) + " already exists.");
  }
  spdlog::info("config: CORS configuration created (space={}, corsId={})", space, c->corsId);
  co_return c;
}

asio::awaitable<Result<model::Cors>> ConfigService::updateCors(std::string space, std::string id,
                                                               boost::json::value body) {
  const auto k = key(ResourceKind::kCors, space, id);
  auto turn = co_await writeTurn();
  for (RetryUntilDeadline retry(kWriteDeadline); co_await retry.next();) {
    auto current = co_await read(k);
    if (!current) co_return std::move(current).error();
    if (!*current) co_return corsNotFound(id);
    auto existing = decodedOrInternal(model::decodeStoredCors((*current)->value), k);
    if (!existing) co_return std::move(existing).error();
    auto updated = model::corsUpdateFromRequest(*existing, body);
    if (!updated) co_return std::move(updated).error();
    std::vector<store::Compare> compares{{k, (*current)->modRevision}};
    std::vector<store::Op> ops{putOp(k, model::encodeStored(*updated))};
    auto r = co_await commit(turn, std::move(compares), std::move(ops));
    if (!r) co_return storeError(r.error());
    if (r->succeeded) {
      spdlog::info("config: CORS configuration updated (space={}, corsId={})", space, id);
      co_return updated;
    }
  }
  co_return raceLost("CORS configuration " + q(id));
}

asio::awaitable<Status> ConfigService::deleteCors(std::string space, std::string id) {
  co_return co_await deleteResource<model::Cors>(
      space, id,
      [](const store::KeyValue&, std::vector<store::Compare>&,
         std::vector<store::Op>&) -> asio::awaitable<Status> { co_return Status{}; });
}

asio::awaitable<Result<model::Cors>> ConfigService::getCors(std::string space,
    std::string id) {
  return getResource<model::Cors>(std::move(space), std::move(id));
}

asio::awaitable<Result<ResourceList<model::Cors>>> ConfigService::listCors(
    std::string space, MetadataFilters filters) {
  return listResources<model::Cors>(std::move(space), std::move(filters));
}

}  // namespace eg::config
