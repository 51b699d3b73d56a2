#pragma once

#include <array>
#include <cstddef>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>

namespace eg::net {

// Sends what a socket in non-blocking mode takes right away, and advances `buffers`
// past it. A request or response usually fits in the socket's send buffer whole: sent
// here, it skips the trip through the event loop an async write makes (queueing the
// completion and resuming the coroutine from the scheduler).
//
// True when it is done: everything was sent, or an error other than would_block is in
// `ec`. False when the rest has to be written asynchronously.
inline bool writeNow(boost::asio::ip::tcp::socket& socket,
                     std::array<boost::asio::const_buffer, 2>& buffers,
                     boost::system::error_code& ec) {
  const std::size_t sent = socket.write_some(buffers, ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    ec = {};
    return false;
  }
  if (ec) return true;
  std::size_t skip = sent;
  for (auto& b : buffers) {
    const std::size_t n = skip < b.size() ? skip : b.size();
    b += n;
    skip -= n;
  }
  return buffers[0].size() == 0 && buffers[1].size() == 0;
}

}  // namespace eg::net
