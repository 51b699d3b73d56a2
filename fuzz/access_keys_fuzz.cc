// Access keys files (access/key_set) and Authorization header values. Input: a keys
// file. Checks: a parsed file's entries re-parse from their own lines to the same set;
// every entry's scope text parses back to it; no two entries share a digest; a bearer
// token taken from any line is non-empty and holds no blank.

#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "access/key_set.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  for (std::string_view rest = text; !rest.empty();) {
    const size_t nl = rest.find('\n');
    if (const auto token = eg::access::bearerToken(rest.substr(0, nl))) {
      check(!token->empty());
      check(token->find(' ') == std::string_view::npos && token->find('\t') == std::string_view::npos);
    }
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
  }

  const auto set = eg::access::KeySet::parse(text);
  if (!set) {
    check(set.error().message.starts_with("line "));
    return 0;
  }
  std::string again;
  for (const auto& entry : (*set)->entries()) {
    const auto scope = eg::access::parseScope(entry.scope.text());
    check(scope.ok() && *scope == entry.scope);
    again += eg::access::toHex(entry.digest) + " " + entry.scope.text() + "\n";
  }
  const auto reparsed = eg::access::KeySet::parse(again);
  check(reparsed.ok() && (*reparsed)->size() == (*set)->size());
  for (size_t i = 0; i < (*set)->size(); ++i) {
    check((*reparsed)->entries()[i].digest == (*set)->entries()[i].digest);
    check((*reparsed)->entries()[i].scope == (*set)->entries()[i].scope);
  }
  return 0;
}
