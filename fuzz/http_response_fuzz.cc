// The HTTP client's two response parsers (net/http_client): the fast path,
// parseSimpleResponse, and the general one it falls back to, ResponseReader (Beast).
// Input: the bytes a function sends back. Wherever the fast path reads a complete
// response, the general parser must read the same one from the same bytes: status,
// every header line, body, bytes consumed and keep-alive. And the fast path must not
// call a response complete before its last byte has arrived. Small limits, so that
// inputs reach them.

#include <cstdint>
#include <cstdlib>
#include <string_view>

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>

#include "net/http_client.h"
#include "net/parse_buffered.h"
#include "net/response_reader.h"
#include "net/simple_response.h"

namespace {

using eg::net::ClientResponse;
using eg::net::SimpleParse;

constexpr std::size_t kMaxHeader = 512;
constexpr std::size_t kMaxBody = 1024;

struct Fast {
  SimpleParse result;
  ClientResponse response;
  std::size_t consumed = 0;
  bool keepAlive = false;
};

Fast fast(std::string_view in) {
  Fast f;
  f.result = eg::net::parseSimpleResponse(in, kMaxBody, kMaxHeader, f.response, f.consumed,
                                          f.keepAlive);
  return f;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const Fast f = fast(in);
  if (f.result != SimpleParse::kDone) return 0;

  // The general parser, set up as the client sets it up, over the same bytes.
  ClientResponse general;
  eg::net::ResponseReader parser(general);
  parser.eager(true);
  parser.header_limit(kMaxHeader);
  parser.body_limit(kMaxBody);
  boost::beast::flat_buffer buffer;
  buffer.commit(boost::asio::buffer_copy(buffer.prepare(size), boost::asio::buffer(in)));
  const boost::system::error_code ec = eg::net::parseBuffered(parser, buffer);
  check(!ec && parser.is_done());
  check(size - buffer.size() == f.consumed);
  check(general.status == f.response.status);
  check(general.headerLines() == f.response.headerLines());
  check(general.body == f.response.body);
  check(parser.keep_alive() == f.keepAlive);

  // Arriving in pieces: complete only once its last byte is there, and then the same.
  check(fast(in.substr(0, f.consumed - 1)).result != SimpleParse::kDone);
  check(fast(in.substr(0, f.consumed / 2)).result != SimpleParse::kDone);
  const Fast exact = fast(in.substr(0, f.consumed));
  check(exact.result == SimpleParse::kDone && exact.consumed == f.consumed &&
        exact.response.headerLines() == f.response.headerLines() &&
        exact.response.body == f.response.body && exact.keepAlive == f.keepAlive);
  return 0;
}
