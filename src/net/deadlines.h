#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

namespace eg::net {

// Deadlines of the sockets of one io_context, enforced by one periodic sweep instead of
// a timer per operation. Setting a deadline is a store; when a sweep finds it passed,
// the socket's pending operations are cancelled (they complete with
// operation_aborted) and the entry is marked expired, so that the owner can tell a
// timeout from other failures. A deadline is honoured within one tick after it passes.
//
// Compared with a timer per read and write (what beast::tcp_stream does), a request no
// longer pays a timer-queue insert and removal and a cancelled wait completion per
// operation.
//
// Not thread-safe: every call on the io_context's thread. The sweep runs only while
// entries are registered; the object stays alive while it runs.
class Deadlines : public std::enable_shared_from_this<Deadlines> {
 public:
  using Clock = std::chrono::steady_clock;

  // Embedded in whatever owns the socket; registered for as long as the socket may have
  // a deadline (see Registration).
  struct Entry {
    boost::asio::ip::tcp::socket* socket = nullptr;
    Clock::time_point deadline = Clock::time_point::max();
    bool expired = false;
    Entry* prev = nullptr;
    Entry* next = nullptr;
  };

  static std::shared_ptr<Deadlines> create(const boost::asio::any_io_executor& ex,
                                           std::chrono::milliseconds tick);
  Deadlines(const boost::asio::any_io_executor& ex, std::chrono::milliseconds tick);
  Deadlines(const Deadlines&) = delete;
  Deadlines& operator=(const Deadlines&) = delete;

  void add(Entry& e);
  void remove(Entry& e);

  // Operations on e.socket from now on must finish by `at`.
  static void set(Entry& e, Clock::time_point at) {
    e.deadline = at;
    e.expired = false;
  }
  static void after(Entry& e, std::chrono::milliseconds d) { set(e, Clock::now() + d); }
  static void clear(Entry& e) { e.deadline = Clock::time_point::max(); }

  // Ends the sweep for good (the io_context is going away) and frees its timer, so
  // that entries may still be added and removed until the object goes.
  void stop();

  // A tick suited to the shortest timeout in use: a tenth of it, within [5 ms, 500 ms].
  static std::chrono::milliseconds tickFor(std::chrono::milliseconds shortest);

  // add() in the constructor, remove() in the destructor.
  class Registration {
   public:
    Registration(Deadlines& d, Entry& e) : deadlines_(d), entry_(e) { deadlines_.add(entry_); }
    ~Registration() { deadlines_.remove(entry_); }
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

   private:
    Deadlines& deadlines_;
    Entry& entry_;
  };

 private:
  void startSweep();
  void sweep();

  std::optional<boost::asio::steady_timer> timer_;  // empty once stopped
  std::chrono::milliseconds tick_;
  Entry* head_ = nullptr;
  std::size_t count_ = 0;
  bool sweeping_ = false;
  bool stopped_ = false;
};

}  // namespace eg::net
