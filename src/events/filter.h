#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "common/result.h"
#include "events/cloud_event.h"

namespace eg::events {

// Filters on async subscriptions (spec §3.9): the dialects of the CloudEvents
// Subscriptions API, compiled once and matched against events.
//
//   {"exact":  {"<attribute>": "<value>"}}   the attribute is the value
//   {"prefix": {"<attribute>": "<value>"}}   the attribute starts with the value
//   {"suffix": {"<attribute>": "<value>"}}   the attribute ends with the value
//   {"all": [<expression>, ...]}             every expression matches (none: true)
//   {"any": [<expression>, ...]}             one of them matches (none: false)
//   {"not": <expression>}                    the expression does not match
//
// An attribute is a 1.0 context attribute name (a 0.1 event is matched through the same
// names: `type` is its eventType, `id` its eventID, `time` its eventTime, `dataschema`
// its schemaURL, `datacontenttype` its contentType, `specversion` its version), an
// extension's name, or `data.<dotted.path>` into JSON data (a segment of digits
// indexes an array). Strings compare as they are,
// numbers and booleans by their JSON text. A missing attribute (or a data path that
// leads to an object, an array or null) matches no exact, prefix or suffix.
class Filter {
 public:
  // Bounds, so that matching stays cheap and a filter small (400 beyond them).
  static constexpr std::size_t kMaxExpressions = 64;  // in one subscription's filters
  static constexpr std::size_t kMaxDepth = 8;         // all/any/not nesting
  static constexpr std::size_t kMaxValueLength = 1024;
  static constexpr std::size_t kMaxAttributeLength = 256;

  // Compiles a subscription's `filters`: a JSON array of expressions, all of which must
  // match. kInvalid naming where the problem is, e.g.
  //   filters[1].all[0]: "exact" must hold exactly one attribute.
  static Result<Filter> compile(const boost::json::value& filters);

  bool matches(const CloudEvent& event) const;
  std::size_t expressions() const { return nodes_.size(); }

 private:
  enum class Kind : std::uint8_t { kExact, kPrefix, kSuffix, kAll, kAny, kNot };
  enum class Attribute : std::uint8_t {
    kSpecVersion, kId, kSource, kType, kSubject, kTime, kDataSchema, kDataContentType,
    kExtension, kData,
  };
  // The expressions, flattened: an all/any/not node's children follow it, `end` is one
  // past its last descendant.
  struct Node {
    Kind kind;
    Attribute attribute = Attribute::kType;
    std::uint32_t end = 0;
    std::string name;                // kExtension: the name
    std::vector<std::string> path;   // kData: the segments after "data."
    std::string value;
  };

  struct Compiler;
  bool matchAt(std::size_t at, const CloudEvent& event) const;
  bool compare(const Node& node, const CloudEvent& event) const;

  std::vector<Node> nodes_;
  std::vector<std::uint32_t> roots_;  // the top-level expressions
};

}  // namespace eg::events
