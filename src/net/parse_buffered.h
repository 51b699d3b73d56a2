#pragma once

#include <cstddef>

#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>

namespace eg::net {

// Feeds what `buffer` holds to a Beast parser (request or response) and consumes what
// it took. The usual message arrives whole in one read: parsing it straight from the
// buffer saves the trips through the event loop that async_read would make to find
// that out. need_more is not an error here: the caller reads more when the parser is
// not done.
template <class Parser>
boost::system::error_code parseBuffered(Parser& parser, boost::beast::flat_buffer& buffer) {
  boost::system::error_code ec;
  while (buffer.size() > 0 && !parser.is_done()) {
    const std::size_t used = parser.put(buffer.data(), ec);
    buffer.consume(used);
    if (ec == boost::beast::http::error::need_more) return {};
    if (ec) return ec;
    if (used == 0) break;
  }
  return ec;
}

}  // namespace eg::net
