#include "net/read_request.h"

#include <cstdint>
#include <limits>

#include "net/parse_buffered.h"

namespace eg::net {

namespace read_request_detail {

bool headDone(RequestParser& parser, boost::beast::flat_buffer& buffer,
              const ServerSettings& settings, std::size_t headSize,
              boost::system::error_code& ec) {
  const Request& req = parser.get();
  if (headSize > settings.headerLimit) {
    ec = http::error::header_limit;
  } else if (!parser.chunked() && req.find(http::field::transfer_encoding) != req.end()) {
    ec = http::error::bad_transfer_encoding;
  } else if (!parser.is_done()) {
    parser.eager(true);
    ec = parseBuffered(parser, buffer);
  }
  return ec || parser.is_done();
}

}  // namespace read_request_detail

bool startRequest(std::optional<RequestParser>& parser, boost::beast::flat_buffer& buffer,
                  const ServerSettings& settings, std::size_t& headSize,
                  boost::system::error_code& ec) {
  parser.emplace();
  parser->header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(settings.headerLimit, std::numeric_limits<std::uint32_t>::max())));
  parser->body_limit(settings.bodyLimit);
  // Beast applies its header limit to the request line and to the fields apart, and
  // anew to what is left after each read, so a head can pass it. The limit is held
  // here, on the bytes the head took: put() without eager, as async_read_header, stops
  // where the head ends.
  parser->eager(false);
  ec = {};
  headSize = parser->put(buffer.data(), ec);
  buffer.consume(headSize);
  if (ec == http::error::need_more) ec = {};
  if (ec) return true;
  if (!parser->is_header_done()) return false;
  return read_request_detail::headDone(*parser, buffer, settings, headSize, ec);
}

}  // namespace eg::net
