#pragma once

// Reads a fuzz input: as choices, for targets that build a program of operations from
// it (clang's FuzzedDataProvider is not on gcc's include path, and the replay builds use
// gcc), or as '\n'-separated fields, so that seeds stay readable text and the fuzzer's
// byte-level mutations land in one field at a time. Once the bytes run out every read
// answers 0 / empty.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace eg::fuzz {

class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }
  uint8_t byte() {
    if (rest_.empty()) return 0;
    const auto b = static_cast<uint8_t>(rest_.front());
    rest_.remove_prefix(1);
    return b;
  }
  // One of [0, n), n > 0.
  size_t pick(size_t n) { return byte() % n; }
  // Up to `max` bytes, as many as the next byte says.
  std::string_view bytes(size_t max) {
    const size_t n = std::min<size_t>(pick(max + 1), rest_.size());
    const std::string_view out = rest_.substr(0, n);
    rest_.remove_prefix(n);
    return out;
  }
  // Up to the next '\n' (which is dropped), or what is left.
  std::string_view line() {
    const size_t nl = rest_.find('\n');
    const std::string_view out = rest_.substr(0, nl);
    rest_ = nl == std::string_view::npos ? std::string_view() : rest_.substr(nl + 1);
    return out;
  }
  // Whatever is left.
  std::string_view rest() {
    const std::string_view out = rest_;
    rest_ = {};
    return out;
  }

 private:
  std::string_view rest_;
};

}  // namespace eg::fuzz
