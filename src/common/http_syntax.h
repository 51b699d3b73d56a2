#pragma once

#include <string_view>

namespace eg {

// RFC 9110 token characters (header names, methods).
bool isHttpTokenChar(unsigned char c);
// A non-empty run of token characters.
bool isHttpToken(std::string_view s);
// A header value that cannot split or end a header block: no CR, LF or NUL.
bool isHttpFieldValue(std::string_view s);
// Headers that frame a message or its connection (Content-Length, Transfer-Encoding,
// Connection, Keep-Alive, Upgrade, TE, Trailer, Proxy-Connection), case-insensitive.
// Only the party that writes the message may set them; a configured or relayed value
// would break the message or the pooled connection it travels on.
bool isFramingHeader(std::string_view name);

}  // namespace eg
