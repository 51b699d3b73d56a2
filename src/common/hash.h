#pragma once

#include <cstdint>

namespace eg {

// MurmurHash3's 64-bit finaliser: every bit of the result depends on every bit of `h`,
// so that hashes which differ little (FNV of keys that differ in their last byte, a
// combination of part hashes) spread over all of the output's bits.
constexpr std::uint64_t mix64(std::uint64_t h) {
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

}  // namespace eg
