#pragma once

// A fuzz input read as '\n'-separated fields, so that seeds stay readable text and the
// fuzzer's byte-level mutations land in one field at a time.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace eg::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size)
      : rest_(reinterpret_cast<const char*>(data), size) {}

  bool empty() const { return rest_.empty(); }
  // Up to the next '\n' (which is dropped), or what is left.
  std::string_view line() {
    const std::size_t nl = rest_.find('\n');
    const std::string_view out = rest_.substr(0, nl);
    rest_ = nl == std::string_view::npos ? std::string_view() : rest_.substr(nl + 1);
    return out;
  }
  // Everything not read yet.
  std::string_view rest() {
    const std::string_view out = rest_;
    rest_ = {};
    return out;
  }

 private:
  std::string_view rest_;
};

}  // namespace eg::fuzz
