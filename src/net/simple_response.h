#pragma once

#include <cstddef>
#include <string_view>

namespace eg::net {

struct ClientResponse;

// The common case of an HTTP/1.x response, parsed without Beast's general parser: a
// final status (not 1xx, 204 or 304), plain `name: value` header lines, one
// Content-Length and no Transfer-Encoding, all of it in `in`. A function's answer is
// almost always such a response, and this costs a fraction of the general parser.
//
// kDone: the response was read into `out` (status, headers with values trimmed as
// Beast trims them, body); `consumed` bytes of `in` were the response and `keepAlive`
// says whether the connection may carry another one.
// kNeedMore: a simple response so far, but not all of it is in `in` yet.
// kNotSimple: anything else (chunked, no length, obs-fold, odd syntax, too large):
// `out` is untouched and the general parser must read `in` from its start.
enum class SimpleParse { kDone, kNeedMore, kNotSimple };

SimpleParse parseSimpleResponse(std::string_view in, std::size_t maxBody,
                                std::size_t maxHeader, ClientResponse& out,
                                std::size_t& consumed, bool& keepAlive);

}  // namespace eg::net
