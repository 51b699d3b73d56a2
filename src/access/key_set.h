#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "access/scope.h"
#include "common/result.h"

namespace eg::access {

inline constexpr std::size_t kDigestSize = 32;
using Digest = std::array<unsigned char, kDigestSize>;

// SHA-256 (OpenSSL EVP) of `bytes`.
Digest sha256(std::string_view bytes);
// Lower-case hex of a digest, as in the keys file.
std::string toHex(const Digest& digest);

// The keys of an -access-keys file (spec §6): which key has which scope. Immutable once
// parsed, so any number of threads read it while a reload builds the next one. It holds
// SHA-256 digests only, never a key.
class KeySet {
 public:
  struct Entry {
    Digest digest;
    Scope scope;
    int line = 0;  // in the file, for messages

    // "sha256:<first 8 hex>": names the key in logs without revealing it.
    std::string label() const;
  };

  // One key a line, `<sha256 hex of the key> <scope>`, fields separated by spaces or
  // tabs; blank lines and lines starting with '#' are skipped; CRLF is accepted. Hex in
  // either case. The error (kInvalid) names the first bad line: "line 3: ...". It never
  // quotes the first field: a key pasted there by mistake must not reach a log.
  static Result<std::shared_ptr<const KeySet>> parse(std::string_view text);
  // Reads and parses `path`; errors start with the path.
  static Result<std::shared_ptr<const KeySet>> load(const std::string& path);

  // The entry of `key`, or null. The presented key is hashed and its digest compared to
  // every entry in constant time (CRYPTO_memcmp), without stopping at a match, so the
  // time taken says nothing about which digest or byte matched.
  const Entry* find(std::string_view key) const;

  std::size_t size() const { return entries_.size(); }
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  explicit KeySet(std::vector<Entry> entries) : entries_(std::move(entries)) {}
  std::vector<Entry> entries_;
};

// A new access key: 32 bytes from OpenSSL's RAND_bytes, base64url without padding
// (43 characters, safe in a header and a shell). Fails (kInternal) only when the random
// generator cannot be seeded.
Result<std::string> generateKey();

// The keys-file line of `key`: "<sha256 hex> <scope>".
std::string fileLine(std::string_view key, const Scope& scope);

// The key of an Authorization header value "Bearer <key>": the scheme in any case
// (the SDK sends "bearer"), one or more spaces, then a key of visible ASCII with no
// space. nullopt for anything else (another scheme, no key, a key with spaces).
std::optional<std::string_view> bearerToken(std::string_view header);

}  // namespace eg::access
