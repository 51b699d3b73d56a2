#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace eg::access {

// What an access key may do (spec §6): everything, or the Config API of one space,
// read and write or read only.
struct Scope {
  enum class Kind { kAdmin, kSpace, kSpaceRead };
  Kind kind = Kind::kAdmin;
  std::string space;  // empty for kAdmin

  // As written in the keys file: "admin", "space:<name>", "space:<name>:read".
  std::string text() const;
  friend bool operator==(const Scope&, const Scope&) = default;
};

// "admin", "space:<name>" or "space:<name>:read", <name> a valid space name
// (model::checkSpace). The error (kInvalid) says what is wrong and quotes the text:
// scopes are not secret.
Result<Scope> parseScope(std::string_view text);

// What a Config API request touches, as far as scopes go. The HTTP side classifies a
// request into this; the decision below knows nothing of HTTP.
struct Target {
  enum class Kind {
    kSpace,    // /v1/spaces/<space>/...
    kMetrics,  // /v1/metrics, /metrics: counts of every space
    kOther,    // anything else (unknown paths included): admin only
  };
  Kind kind = Kind::kOther;
  std::string space;  // kSpace: the space as the router decodes it
  bool write = true;  // any method but GET and HEAD
};

// nullopt when `scope` allows `target`; otherwise why not, for the 403's message.
// admin: everything. space:<s>: any method under /v1/spaces/<s>/. space:<s>:read: GET
// and HEAD there. Space keys get nothing outside their space: metrics and any endpoint
// added later span every space, so they are admin's unless opened explicitly.
std::optional<std::string> whyDenied(const Scope& scope, const Target& target);

}  // namespace eg::access
