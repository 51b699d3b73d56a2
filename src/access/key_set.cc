#include "access/key_set.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

namespace eg::access {
namespace {

constexpr std::size_t kKeyBytes = 32;

bool isBlank(char c) { return c == ' ' || c == '\t'; }

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::optional<Digest> parseHexDigest(std::string_view text) {
  if (text.size() != 2 * kDigestSize) return std::nullopt;
  Digest d{};
  for (std::size_t i = 0; i < kDigestSize; ++i) {
    const int hi = hexValue(text[2 * i]);
    const int lo = hexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    d[i] = static_cast<unsigned char>(hi * 16 + lo);
  }
  return d;
}

std::vector<std::string_view> fields(std::string_view line) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && isBlank(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !isBlank(line[i])) ++i;
    if (i > start) out.push_back(line.substr(start, i - start));
  }
  return out;
}

std::string base64Url(const unsigned char* bytes, std::size_t size) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  uint32_t buffer = 0;
  int bits = 0;
  for (std::size_t i = 0; i < size; ++i) {
    buffer = (buffer << 8) | bytes[i];
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kAlphabet[(buffer >> bits) & 0x3f]);
    }
  }
  if (bits > 0) out.push_back(kAlphabet[(buffer << (6 - bits)) & 0x3f]);
  return out;
}

}  // namespace

Digest sha256(std::string_view bytes) {
  Digest d{};
  unsigned int size = 0;
  // EVP_Digest fails only on allocation failure; a zero digest then matches no key
  // file line that was not written on purpose as zeros.
  EVP_Digest(bytes.data(), bytes.size(), d.data(), &size, EVP_sha256(), nullptr);
  return d;
}

std::string toHex(const Digest& digest) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * kDigestSize);
  for (unsigned char b : digest) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

std::string KeySet::Entry::label() const { return "sha256:" + toHex(digest).substr(0, 8); }

Result<std::shared_ptr<const KeySet>> KeySet::parse(std::string_view text) {
  std::vector<Entry> entries;
  std::map<Digest, int> seen;
  int number = 0;
  while (!text.empty()) {
    ++number;
    const std::size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    const auto parts = fields(line);
    if (parts.empty() || parts[0].starts_with('#')) continue;
    const std::string at = "line " + std::to_string(number) + ": ";
    if (parts.size() != 2) {
      return Error::invalid(at + "want \"<sha256 hex of the key> <scope>\", found " +
                            std::to_string(parts.size()) + " field(s)");
    }
    const auto digest = parseHexDigest(parts[0]);
    if (!digest) {
      return Error::invalid(at + "the first field must be the SHA-256 of the key, 64 hex "
                                 "characters (found " + std::to_string(parts[0].size()) +
                            " characters); the file holds digests, never keys: "
                            "event-gateway -new-access-key SCOPE prints a line");
    }
    auto scope = parseScope(parts[1]);
    if (!scope) return Error::invalid(at + scope.error().message);
    if (const auto [it, inserted] = seen.emplace(*digest, number); !inserted) {
      return Error::invalid(at + "the same key as line " + std::to_string(it->second) +
                            ": a key has one scope");
    }
    entries.push_back(Entry{*digest, std::move(*scope), number});
  }
  return std::shared_ptr<const KeySet>(new KeySet(std::move(entries)));
}

Result<std::shared_ptr<const KeySet>> KeySet::load(const std::string& path) {
  const std::string name = "access keys file \"" + path + "\"";
  std::ifstream in(path, std::ios::binary);
  if (!in) return Error::invalid("cannot read " + name + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Error::invalid("cannot read " + name + ": " + std::strerror(errno));
  auto parsed = parse(text.str());
  if (!parsed) return Error::invalid(name + ": " + parsed.error().message);
  return parsed;
}

const KeySet::Entry* KeySet::find(std::string_view key) const {
  const Digest presented = sha256(key);
  // Branch-free selection: every entry is compared and the loop never exits early, so
  // neither the position of a match nor its presence shows in the time taken (parse
  // refuses duplicates: at most one entry matches).
  uintptr_t found = 0;
  for (const Entry& entry : entries_) {
    const uintptr_t equal =
        static_cast<uintptr_t>(CRYPTO_memcmp(presented.data(), entry.digest.data(), kDigestSize) == 0);
    const uintptr_t mask = uintptr_t{0} - equal;
    found = (found & ~mask) | (reinterpret_cast<uintptr_t>(&entry) & mask);
  }
  return reinterpret_cast<const Entry*>(found);
}

Result<std::string> generateKey() {
  unsigned char bytes[kKeyBytes];
  if (RAND_bytes(bytes, sizeof bytes) != 1) {
    return Error::internal("the random number generator failed (RAND_bytes)");
  }
  std::string key = base64Url(bytes, sizeof bytes);
  OPENSSL_cleanse(bytes, sizeof bytes);
  return key;
}

std::string fileLine(std::string_view key, const Scope& scope) {
  return toHex(sha256(key)) + " " + scope.text();
}

std::optional<std::string_view> bearerToken(std::string_view header) {
  constexpr std::string_view kScheme = "bearer";
  if (header.size() <= kScheme.size()) return std::nullopt;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = header[i];
    const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
    if (lower != kScheme[i]) return std::nullopt;
  }
  std::string_view rest = header.substr(kScheme.size());
  if (!isBlank(rest.front())) return std::nullopt;  // "Bearerx"
  while (!rest.empty() && isBlank(rest.front())) rest.remove_prefix(1);
  while (!rest.empty() && isBlank(rest.back())) rest.remove_suffix(1);
  if (rest.empty()) return std::nullopt;
  for (char c : rest) {
    if (c <= ' ' || c > '~') return std::nullopt;
  }
  return rest;
}

}  // namespace eg::access
