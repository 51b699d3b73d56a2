#include "providers/weighted/weighted_provider.h"

#include <cmath>
#include <set>

#include "common/http_syntax.h"
#include "events/cloud_event_v1.h"
#include "model/limits.h"
#include "model/validation.h"
#include "providers/failing_invoker.h"

namespace eg::providers {

namespace json = boost::json;

namespace {

constexpr std::string_view kHeaderPrefix = "header:";

std::string field(std::string_view name) { return "\"provider." + std::string(name) + "\""; }

Error invalid(std::string_view name, std::string_view problem) {
  return Error::invalid("Field " + field(name) + " " + std::string(problem));
}

// A weight is a whole number; JSON has one number type, so 70.0 is 70 to a JavaScript
// client and is accepted.
std::optional<std::uint32_t> weightOf(const json::value& v) {
  if (v.is_int64()) {
    const auto n = v.get_int64();
    if (n >= 0 && n <= model::kMaxWeight) return static_cast<std::uint32_t>(n);
  } else if (v.is_uint64()) {
    if (v.get_uint64() <= model::kMaxWeight) return static_cast<std::uint32_t>(v.get_uint64());
  } else if (v.is_double()) {
    const double d = v.get_double();
    if (std::isfinite(d) && std::trunc(d) == d && d >= 0 && d <= model::kMaxWeight) {
      return static_cast<std::uint32_t>(d);
    }
  }
  return std::nullopt;
}

Result<WeightedTarget> parseTarget(const json::value& v, const std::string& at) {
  if (!v.is_object()) return invalid(at, R"(must be an object {"functionId", "weight"}.)");
  const json::object& o = v.get_object();
  for (const auto& [key, value] : o) {
    if (key != "functionId" && key != "weight") {
      return invalid(at + "." + std::string(key), "is unknown; a target has functionId and weight.");
    }
  }
  WeightedTarget target;
  const json::value* id = o.if_contains("functionId");
  if (id == nullptr || id->is_null()) {
    return Error::invalid("Missing required field " + field(at + ".functionId") + ".");
  }
  if (!id->is_string()) return invalid(at + ".functionId", "must be a string.");
  const std::string_view text(id->get_string().data(), id->get_string().size());
  if (text.size() > model::kMaxNameLength) {
    return invalid(at + ".functionId",
                   "must be at most " + std::to_string(model::kMaxNameLength) + " bytes long.");
  }
  if (!model::isValidName(text)) {
    return invalid(at + ".functionId",
                   R"(may only contain letters, digits, ".", "-" and "_".)");
  }
  target.functionId.assign(text);
  const json::value* weight = o.if_contains("weight");
  if (weight == nullptr || weight->is_null()) {
    return Error::invalid("Missing required field " + field(at + ".weight") + ".");
  }
  const auto w = weightOf(*weight);
  if (!w) {
    return invalid(at + ".weight", "must be a whole number between 0 and " +
                                       std::to_string(model::kMaxWeight) + ".");
  }
  target.weight = *w;
  return target;
}

Result<StickyBy> parseStickyBy(const json::object& provider) {
  StickyBy sticky;
  const json::value* v = provider.if_contains("stickyBy");
  // Absent, null and "" all mean "not given", as for the other providers' strings.
  if (v == nullptr || v->is_null()) return sticky;
  if (!v->is_string()) return invalid("stickyBy", "must be a string.");
  const std::string_view text(v->get_string().data(), v->get_string().size());
  if (text.empty()) return sticky;
  if (text.substr(0, kHeaderPrefix.size()) == kHeaderPrefix) {
    const std::string_view name = text.substr(kHeaderPrefix.size());
    if (name.size() > model::kMaxHeaderNameLength) {
      return invalid("stickyBy", "has a header name longer than " +
                                     std::to_string(model::kMaxHeaderNameLength) + " bytes.");
    }
    if (!isHttpToken(name)) {
      return invalid("stickyBy", "has an invalid header name after \"header:\".");
    }
    sticky.kind = StickyBy::Kind::kHeader;
    sticky.name.assign(name);
    return sticky;
  }
  // `data` is not an attribute in 1.0, though its letters would make a name.
  if (!events::isAttributeName(text) || text == "data") {
    return invalid("stickyBy",
                   "must be \"header:<Name>\", a context attribute (\"subject\", \"source\", "
                   "...) or an extension name ([a-z0-9]{1,20}).");
  }
  sticky.kind = StickyBy::Kind::kAttribute;
  sticky.name.assign(text);
  return sticky;
}

}  // namespace

Result<WeightedSettings> parseWeightedProvider(const json::object& provider) {
  WeightedSettings settings;
  const json::value* functions = provider.if_contains("functions");
  if (functions == nullptr || functions->is_null()) {
    return Error::invalid("Missing required field \"functions\" in provider.");
  }
  if (!functions->is_array()) {
    return invalid("functions", R"(must be an array of {"functionId", "weight"} objects.)");
  }
  const json::array& items = functions->get_array();
  if (items.empty()) return invalid("functions", "must name at least one function.");
  if (items.size() > model::kMaxWeightedTargets) {
    return invalid("functions", "must have at most " + std::to_string(model::kMaxWeightedTargets) +
                                    " entries.");
  }
  std::set<std::string, std::less<>> seen;
  bool anyWeight = false;
  settings.functions.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string at = "functions[" + std::to_string(i) + "]";
    auto target = parseTarget(items[i], at);
    if (!target) return std::move(target).error();
    anyWeight = anyWeight || target->weight > 0;
    if (!seen.insert(target->functionId).second) {
      return invalid(at + ".functionId",
                     "names function \"" + target->functionId + "\" a second time.");
    }
    settings.functions.push_back(std::move(target).value());
  }
  if (!anyWeight) return invalid("functions", "must give at least one function a weight above 0.");
  auto sticky = parseStickyBy(provider);
  if (!sticky) return std::move(sticky).error();
  settings.stickyBy = std::move(sticky).value();
  return settings;
}

bool namesTarget(const json::object& provider, std::string_view functionId) {
  const json::value* functions = provider.if_contains("functions");
  if (functions == nullptr || !functions->is_array()) return false;
  for (const json::value& item : functions->get_array()) {
    const json::object* o = item.if_object();
    const json::value* id = o == nullptr ? nullptr : o->if_contains("functionId");
    if (id != nullptr && id->is_string() && id->get_string() == functionId) return true;
  }
  return false;
}

Status WeightedProviderFactory::validate(const json::object& provider) const {
  auto settings = parseWeightedProvider(provider);
  if (!settings) return std::move(settings).error();
  return {};
}

std::unique_ptr<Invoker> WeightedProviderFactory::create(const model::Function& function) const {
  return std::make_unique<FailingInvoker>(Error::unavailable(
      "function call failed: weighted function \"" + function.functionId +
      "\" has no target that can be called"));
}

}  // namespace eg::providers
