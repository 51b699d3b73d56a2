#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>

#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/version.hpp>

// Reads on a plain TCP socket without the receive that fails.
//
// Before waiting for a socket to become readable, Asio's reactor tries the receive right
// away ("speculatively") unless it has seen the socket run dry. On a keep-alive
// connection that try nearly always fails: the server starts reading the next request
// just after it wrote a response, the client reads a response just after it wrote the
// request. That is a failed recv() per read, two per relayed request, and syscalls are
// the largest cost on that path (docs/benchmarks.md).
//
// A receive that got less than it asked for emptied the socket, and edge-triggered epoll
// reports the next data that arrives; the next read can wait without trying first. Asio
// keeps that state per socket (epoll_reactor::descriptor_state::try_speculative_, set by
// every readiness event) but clears it only at end of stream. nginx reads the same way
// (its `ready` flag).
//
// Two things make the short-read rule unsafe, and both are handled:
// - The peer's FIN (or a reset) may have been reported in the same readiness event as
//   the data: the socket is then not empty, the next receive returns end of stream at
//   once, and no further event will come. watchPeerClose adds EPOLLRDHUP to the socket's
//   epoll events (as nginx does), and a short read counts as emptying the socket only
//   when the last event reported for it did not include the peer closing.
// - A readiness event taken by the reactor between a receive and marking the socket
//   empty would be lost. So marking happens only in the synchronous step that received,
//   and only on sockets whose io_context is run by one thread without locking
//   (BOOST_ASIO_CONCURRENCY_HINT_UNSAFE_IO, as the gateway's io threads are). A socket
//   with no other operation outstanding is completed by the reactor right after its
//   receive, in the same step.
//
// These functions reach into Asio's epoll reactor and are written against Boost 1.81's.
// Another Boost fails the build here, on purpose: check the reactor's descriptor_state
// and perform_io in that Boost, then change the version below; or define
// EG_READ_NOW_FALLBACK to build without the trick (the gateway then says so at start,
// and test/net/failed_receives_test.cc fails, since every read costs a failed receive
// again). On any socket that does not qualify they leave Asio's behaviour as it is.

#if defined(BOOST_ASIO_HAS_EPOLL) && !defined(BOOST_ASIO_HAS_IO_URING_AS_DEFAULT) && \
    !defined(EG_READ_NOW_FALLBACK)
#if BOOST_VERSION != 108100
#error "src/net/read_now.h reaches into Boost 1.81's epoll reactor; this Boost differs: see the comment above"
#endif
#define EG_READ_NOW_REACTOR 1
#include <boost/asio/detail/epoll_reactor.hpp>
#include <boost/asio/detail/scheduler_operation.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/query.hpp>
#endif

namespace eg::net {

namespace read_now_detail {

#ifdef EG_READ_NOW_REACTOR
namespace ad = boost::asio::detail;
using Reactor = ad::epoll_reactor;
using DescriptorState = Reactor::descriptor_state;

// Private members of the reactor, named through explicit instantiations (where the
// standard does not check access).
template <class Tag, typename Tag::Member M>
struct Expose {
  friend typename Tag::Member member(Tag) { return M; }
};
#define EG_EXPOSE(TAG, TYPE, MEMBER)        \
  struct TAG {                              \
    using Member = TYPE;                    \
    friend Member member(TAG);              \
  };                                        \
  template struct Expose<TAG, &MEMBER>;
EG_EXPOSE(TrySpeculative, bool (DescriptorState::*)[Reactor::max_ops],
          DescriptorState::try_speculative_)
EG_EXPOSE(StateMutex, ad::conditionally_enabled_mutex DescriptorState::*,
          DescriptorState::mutex_)
EG_EXPOSE(RegisteredEvents, std::uint32_t DescriptorState::*,
          DescriptorState::registered_events_)
EG_EXPOSE(ReadyEvents, unsigned int ad::scheduler_operation::*,
          ad::scheduler_operation::task_result_)
EG_EXPOSE(EpollFd, int Reactor::*, Reactor::epoll_fd_)
#undef EG_EXPOSE

struct SocketAccess : boost::asio::ip::tcp::socket {
  // basic_socket::impl_ is protected: reachable through a derived class.
  static DescriptorState* state(boost::asio::ip::tcp::socket& s) {
    return (s.*(&SocketAccess::impl_)).get_implementation().reactor_data_;
  }
};

// The socket's reactor state when the socket qualifies (see above), else null.
inline DescriptorState* qualifyingState(boost::asio::ip::tcp::socket& s) {
  if (!s.non_blocking()) return nullptr;
  DescriptorState* state = SocketAccess::state(s);
  if (state == nullptr || (state->*member(StateMutex{})).enabled()) return nullptr;
  return state;
}

constexpr std::uint32_t kPeerClosing = EPOLLRDHUP | EPOLLHUP | EPOLLERR;

// The socket's "try reads right away" flag, or null when the socket does not qualify or
// its peer-close events are not watched.
inline bool* readFlag(boost::asio::ip::tcp::socket& s) {
  DescriptorState* state = qualifyingState(s);
  if (state == nullptr || (state->*member(RegisteredEvents{}) & EPOLLRDHUP) == 0) return nullptr;
  return &(state->*member(TrySpeculative{}))[Reactor::read_op];
}

// Marks the socket empty after a receive that got less than it asked for, unless the
// last readiness event reported for it said the peer is closing.
inline void markEmpty(boost::asio::ip::tcp::socket& s, bool* flag) {
  // descriptor_state derives privately from scheduler_operation, where the events are
  // kept; a C-style cast is the conversion to a private base the language allows.
  const auto* op = (const ad::scheduler_operation*)SocketAccess::state(s);
  const unsigned int seen = op->*member(ReadyEvents{});
  if ((seen & kPeerClosing) == 0) *flag = false;
}

inline bool watchPeerClose(boost::asio::ip::tcp::socket& s) {
  DescriptorState* state = qualifyingState(s);
  if (state == nullptr) return false;
  std::uint32_t& events = state->*member(RegisteredEvents{});
  if (events == 0) return false;  // not registered with epoll
  if (events & EPOLLRDHUP) return true;
  auto& ctx = boost::asio::query(s.get_executor(), boost::asio::execution::context);
  Reactor& reactor = boost::asio::use_service<Reactor>(ctx);
  epoll_event ev{};
  ev.events = events | EPOLLRDHUP;
  ev.data.ptr = state;
  if (::epoll_ctl(reactor.*member(EpollFd{}), EPOLL_CTL_MOD, s.native_handle(), &ev) != 0) {
    return false;
  }
  // Asio builds its own later changes (EPOLLOUT for writes) on this value.
  events = ev.events;
  // The change re-armed the socket: epoll reports it again if it is readable now (data
  // or the peer's close), so the next read can wait for that without trying first.
  (state->*member(TrySpeculative{}))[Reactor::read_op] = false;
  return true;
}
#else
inline bool* readFlag(boost::asio::ip::tcp::socket&) { return nullptr; }
inline void markEmpty(boost::asio::ip::tcp::socket&, bool*) {}
inline bool watchPeerClose(boost::asio::ip::tcp::socket&) { return false; }
#endif

}  // namespace read_now_detail

// Whether reads skip the receive that would fail (false: this build reads as Asio does).
#ifdef EG_READ_NOW_REACTOR
inline constexpr bool kReadNowActive = true;
#else
inline constexpr bool kReadNowActive = false;
#endif

// Makes `socket` eligible for readNow: has epoll report the peer closing its side
// (EPOLLRDHUP). One epoll_ctl the first time, after the socket is connected and set
// non-blocking, with no read outstanding; later calls only check. False when the socket
// does not qualify, and readNow then always leaves reading to Asio.
inline bool watchPeerClose(boost::asio::ip::tcp::socket& socket) {
  return read_now_detail::watchPeerClose(socket);
}

// Receives into `buffer` right away unless the socket is known to be empty. True when it
// received (n bytes, or an error in `ec`). False when there is nothing to read yet: the
// caller then co_awaits socket.async_read_some, which waits for readiness without trying
// first, and passes its result to readDone. Nothing may run between the two.
inline bool readNow(boost::asio::ip::tcp::socket& socket, boost::asio::mutable_buffer buffer,
                    std::size_t& n, boost::system::error_code& ec) {
  bool* tryNow = read_now_detail::readFlag(socket);
  if (tryNow == nullptr || !*tryNow) return false;
  n = socket.read_some(buffer, ec);
  if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
    // Nothing there, not even end of stream: certainly empty.
    ec = {};
    n = 0;
    *tryNow = false;
    return false;
  }
  if (!ec && n < buffer.size()) read_now_detail::markEmpty(socket, tryNow);
  return true;
}

// After the async_read_some that followed a readNow returning false, with its result.
// (That read waited for a readiness event; the reactor received and completed it in the
// same step.)
inline void readDone(boost::asio::ip::tcp::socket& socket, const boost::system::error_code& ec,
                     std::size_t n, std::size_t asked) {
  if (ec || n >= asked) return;
  if (bool* tryNow = read_now_detail::readFlag(socket)) read_now_detail::markEmpty(socket, tryNow);
}

}  // namespace eg::net
