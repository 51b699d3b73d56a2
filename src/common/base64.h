#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace eg {

// Base64 of RFC 4648 (the standard alphabet, '=' padding).
std::string base64Encode(std::string_view bytes);
// The bytes of `text`; trailing padding may be left out. nullopt when `text` holds a
// byte outside the alphabet, '=' anywhere but at the end, or a length no encoding has.
std::optional<std::string> base64Decode(std::string_view text);

}  // namespace eg
