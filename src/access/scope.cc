#include "access/scope.h"

#include "model/validation.h"

namespace eg::access {
namespace {

constexpr std::string_view kSpacePrefix = "space:";
constexpr std::string_view kReadSuffix = ":read";

std::string quoted(std::string_view s) { return "\"" + std::string(s) + "\""; }

}  // namespace

std::string Scope::text() const {
  switch (kind) {
    case Kind::kAdmin: return "admin";
    case Kind::kSpace: return std::string(kSpacePrefix) + space;
    case Kind::kSpaceRead: return std::string(kSpacePrefix) + space + std::string(kReadSuffix);
  }
  return "admin";
}

Result<Scope> parseScope(std::string_view text) {
  if (text == "admin") return Scope{Scope::Kind::kAdmin, {}};
  if (!text.starts_with(kSpacePrefix)) {
    return Error::invalid("unknown scope " + quoted(text) +
                          ": want admin, space:<name> or space:<name>:read");
  }
  std::string_view rest = text.substr(kSpacePrefix.size());
  Scope scope{Scope::Kind::kSpace, {}};
  // Space names hold no ':', so the first one ends the name.
  if (const size_t colon = rest.find(':'); colon != std::string_view::npos) {
    if (rest.substr(colon) != kReadSuffix) {
      return Error::invalid("unknown scope " + quoted(text) +
                            ": want admin, space:<name> or space:<name>:read");
    }
    scope.kind = Scope::Kind::kSpaceRead;
    rest = rest.substr(0, colon);
  }
  if (rest.empty() || !model::checkSpace(rest)) {
    return Error::invalid("invalid space name in scope " + quoted(text) +
                          ": a space name is 1 to 256 of letters, digits, \".\", \"-\" and \"_\"");
  }
  scope.space = std::string(rest);
  return scope;
}

std::optional<std::string> whyDenied(const Scope& scope, const Target& target) {
  if (scope.kind == Scope::Kind::kAdmin) return std::nullopt;
  const std::string who = "An access key of scope " + quoted(scope.text());
  if (target.kind != Target::Kind::kSpace) {
    return who + " may not use this endpoint: it needs an admin key.";
  }
  if (target.space != scope.space) {
    return who + " may not use space " + quoted(target.space) + ".";
  }
  if (scope.kind == Scope::Kind::kSpaceRead && target.write) {
    return who + " may only read (GET, HEAD).";
  }
  return std::nullopt;
}

}  // namespace eg::access
