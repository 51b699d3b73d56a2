#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json.hpp>

#include "providers/provider.h"

namespace eg::providers {

// Provider type "weighted" (spec §3.10): the function calls one of other functions of
// its space, chosen per call in proportion to their weights; an incremental rollout is
// a PUT of the weights.
//
// | field       | default  | meaning                                                     |
// |-------------|----------|-------------------------------------------------------------|
// | `functions` | required | 1 to model::kMaxWeightedTargets `{"functionId", "weight"}`  |
// |             |          | objects; a weight is a whole number 0 to model::kMaxWeight, |
// |             |          | at least one above 0; no function twice                     |
// | `stickyBy`  | none     | `header:<Name>`, or a CloudEvents attribute or extension    |
// |             |          | name (`[a-z0-9]{1,20}`, as filters name them): calls with   |
// |             |          | the same value of it reach the same target                  |
//
// That the targets exist in the space, are not weighted themselves and are not the
// function itself is the Config API's check (config::ConfigService): it needs the
// store. Fields of a target object other than functionId and weight are refused (a
// typo would otherwise go unnoticed); unknown provider fields are kept and ignored, as
// for every provider type.
inline constexpr std::string_view kWeightedType = "weighted";

// What a call's sticky key is read from.
struct StickyBy {
  enum class Kind : std::uint8_t {
    kNone,       // random choice by weight
    kHeader,     // a header of the request that caused the call (case-insensitive)
    kAttribute,  // a context attribute (1.0 name) or extension of the event
  };
  Kind kind = Kind::kNone;
  std::string name;  // the header's name or the attribute's
};

struct WeightedTarget {
  std::string functionId;
  std::uint32_t weight = 0;
};

struct WeightedSettings {
  std::vector<WeightedTarget> functions;  // in the order given
  StickyBy stickyBy;
};

// kInvalid naming the field (`provider.functions[2].weight`) when `provider` is not a
// valid weighted provider.
Result<WeightedSettings> parseWeightedProvider(const boost::json::object& provider);

// Whether `provider`, a stored weighted provider whether or not it still validates,
// names `functionId` among its targets: what keeps that function from being deleted.
bool namesTarget(const boost::json::object& provider, std::string_view functionId);

// A weighted function is never called itself: each call goes to a target the
// dispatcher picks (routing/weighted.h). Its invoker is what a call gets when no target
// can be called (none resolved in the configuration): a failed call that says so.
class WeightedProviderFactory final : public ProviderFactory {
 public:
  Status validate(const boost::json::object& provider) const override;
  std::unique_ptr<Invoker> create(const model::Function& function) const override;
};

}  // namespace eg::providers
