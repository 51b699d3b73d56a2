#include "events/filter.h"

#include <charconv>
#include <optional>
#include <utility>

#include "events/cloud_event_v1.h"
#include "events/event_attribute.h"

namespace eg::events {

namespace json = boost::json;

namespace {

Error at(const std::string& where, std::string_view problem) {
  return Error::invalid(where + ": " + std::string(problem));
}

}  // namespace

struct Filter::Compiler {
  Filter& filter;

  Status expression(const json::value& v, const std::string& where, std::size_t depth) {
    if (depth > kMaxDepth) {
      return at(where, "expressions nest more than " + std::to_string(kMaxDepth) + " deep");
    }
    if (filter.nodes_.size() >= kMaxExpressions) {
      return at(where, "a subscription's filters hold at most " +
                           std::to_string(kMaxExpressions) + " expressions");
    }
    if (!v.is_object() || v.get_object().size() != 1) {
      return at(where,
                R"(an expression is an object with one key: "exact", "prefix", "suffix", "all", "any" or "not")");
    }
    const auto& [key, operand] = *v.get_object().begin();
    const std::size_t index = filter.nodes_.size();
    filter.nodes_.push_back(Node{});
    const std::string inner = where + "." + std::string(key);
    if (key == "exact" || key == "prefix" || key == "suffix") {
      filter.nodes_[index].kind =
          key == "exact" ? Kind::kExact : key == "prefix" ? Kind::kPrefix : Kind::kSuffix;
      if (auto s = comparison(operand, inner, key, filter.nodes_[index]); !s) return s;
    } else if (key == "all" || key == "any") {
      filter.nodes_[index].kind = key == "all" ? Kind::kAll : Kind::kAny;
      if (!operand.is_array()) return at(inner, "must be an array of expressions");
      const json::array& items = operand.get_array();
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (auto s = expression(items[i], inner + "[" + std::to_string(i) + "]", depth + 1); !s) {
          return s;
        }
      }
    } else if (key == "not") {
      filter.nodes_[index].kind = Kind::kNot;
      if (auto s = expression(operand, inner, depth + 1); !s) return s;
    } else {
      return at(where, "\"" + std::string(key) +
                           R"(" is not a filter dialect: "exact", "prefix", "suffix", "all", "any" or "not")");
    }
    filter.nodes_[index].end = static_cast<std::uint32_t>(filter.nodes_.size());
    return {};
  }

  Status comparison(const json::value& operand, const std::string& where, std::string_view dialect,
                    Node& node) {
    if (!operand.is_object() || operand.get_object().size() != 1) {
      return at(where, "\"" + std::string(dialect) + "\" must hold exactly one attribute");
    }
    const auto& [name, value] = *operand.get_object().begin();
    if (!value.is_string()) return at(where + "." + std::string(name), "must be a string");
    if (value.get_string().size() > kMaxValueLength) {
      return at(where + "." + std::string(name),
                "must be at most " + std::to_string(kMaxValueLength) + " bytes long");
    }
    node.value.assign(value.get_string().data(), value.get_string().size());
    return attribute(name, where, node);
  }

  static Status attribute(std::string_view name, const std::string& where, Node& node) {
    static constexpr std::pair<std::string_view, Attribute> kContext[] = {
        {"specversion", Attribute::kSpecVersion}, {"id", Attribute::kId},
        {"source", Attribute::kSource},           {"type", Attribute::kType},
        {"subject", Attribute::kSubject},         {"time", Attribute::kTime},
        {"dataschema", Attribute::kDataSchema},   {"datacontenttype", Attribute::kDataContentType},
    };
    if (name.size() > kMaxAttributeLength) {
      return at(where, "an attribute name is at most " + std::to_string(kMaxAttributeLength) +
                           " bytes long");
    }
    for (const auto& [context, attr] : kContext) {
      if (name == context) {
        node.attribute = attr;
        return {};
      }
    }
    constexpr std::string_view kData = "data.";
    if (name.substr(0, kData.size()) == kData) {
      std::string_view rest = name.substr(kData.size());
      while (true) {
        const std::size_t dot = rest.find('.');
        const std::string_view segment = rest.substr(0, dot);
        if (segment.empty()) {
          return at(where, "\"" + std::string(name) + "\": a data path has no empty segment");
        }
        node.path.emplace_back(segment);
        if (dot == std::string_view::npos) break;
        rest.remove_prefix(dot + 1);
      }
      node.attribute = Attribute::kData;
      return {};
    }
    if (isAttributeName(name)) {
      node.attribute = Attribute::kExtension;
      node.name.assign(name);
      return {};
    }
    return at(where, "\"" + std::string(name) +
                         "\" is not an attribute: a context attribute, an extension name "
                         "([a-z0-9]{1,20}) or data.<path>");
  }
};

Result<Filter> Filter::compile(const json::value& filters) {
  if (!filters.is_array()) return Error::invalid("filters: must be an array of expressions");
  Filter filter;
  Compiler compiler{filter};
  const json::array& items = filters.get_array();
  for (std::size_t i = 0; i < items.size(); ++i) {
    filter.roots_.push_back(static_cast<std::uint32_t>(filter.nodes_.size()));
    if (auto s = compiler.expression(items[i], "filters[" + std::to_string(i) + "]", 1); !s) {
      return std::move(s).error();
    }
  }
  return filter;
}

bool Filter::matches(const CloudEvent& event) const {
  for (const std::uint32_t root : roots_) {
    if (!matchAt(root, event)) return false;
  }
  return true;
}

bool Filter::matchAt(std::size_t at, const CloudEvent& event) const {
  const Node& node = nodes_[at];
  switch (node.kind) {
    case Kind::kExact:
    case Kind::kPrefix:
    case Kind::kSuffix:
      return compare(node, event);
    case Kind::kNot:
      return !matchAt(at + 1, event);
    case Kind::kAll:
    case Kind::kAny: {
      const bool all = node.kind == Kind::kAll;
      for (std::size_t child = at + 1; child < node.end; child = nodes_[child].end) {
        if (matchAt(child, event) != all) return !all;
      }
      return all;
    }
  }
  return false;
}

bool Filter::compare(const Node& node, const CloudEvent& event) const {
  std::string scratch;
  std::optional<std::string_view> actual;
  auto optional = [](const std::optional<std::string>& v) -> std::optional<std::string_view> {
    if (v) return std::string_view(*v);
    return std::nullopt;
  };
  auto extension = [&](std::string_view name) -> std::optional<std::string_view> {
    const json::value* v = event.extensions.if_contains(name);
    if (v == nullptr) return std::nullopt;
    return scalarText(*v, scratch);
  };
  switch (node.attribute) {
    case Attribute::kSpecVersion:
      actual = event.specVersion == SpecVersion::k10 ? kSpecVersion10
                                                     : std::string_view(event.cloudEventsVersion);
      break;
    case Attribute::kId: actual = event.eventID; break;
    case Attribute::kSource: actual = event.source; break;
    case Attribute::kType: actual = event.eventType; break;
    case Attribute::kSubject:
      // A 0.1 event carries a subject as extensions.subject (as conversion writes it).
      actual = event.subject ? optional(event.subject) : extension("subject");
      break;
    case Attribute::kTime: actual = optional(event.eventTime); break;
    case Attribute::kDataSchema: actual = optional(event.schemaURL); break;
    case Attribute::kDataContentType: actual = optional(event.contentType); break;
    case Attribute::kExtension:
      if (node.name == "eventtypeversion" && event.eventTypeVersion) {
        actual = *event.eventTypeVersion;
      } else {
        actual = extension(node.name);
      }
      break;
    case Attribute::kData: {
      if (event.dataBase64) break;
      const json::value* v = &event.data;
      for (const std::string& segment : node.path) {
        if (const json::object* o = v->if_object()) {
          v = o->if_contains(segment);
        } else if (const json::array* a = v->if_array()) {
          // A segment of digits indexes an array (data.query.tag.0).
          std::size_t index = 0;
          const auto [end, ec] =
              std::from_chars(segment.data(), segment.data() + segment.size(), index);
          const bool number = ec == std::errc() && end == segment.data() + segment.size();
          v = number && index < a->size() ? &(*a)[index] : nullptr;
        } else {
          v = nullptr;
        }
        if (v == nullptr) break;
      }
      if (v != nullptr) actual = scalarText(*v, scratch);
      break;
    }
  }
  if (!actual) return false;
  const std::string_view a = *actual;
  const std::string_view want = node.value;
  switch (node.kind) {
    case Kind::kExact: return a == want;
    case Kind::kPrefix: return a.substr(0, want.size()) == want;
    case Kind::kSuffix: return a.size() >= want.size() && a.substr(a.size() - want.size()) == want;
    default: return false;
  }
}

}  // namespace eg::events
