#include "net/deadlines.h"

#include <algorithm>

namespace eg::net {

namespace asio = boost::asio;

std::shared_ptr<Deadlines> Deadlines::create(const asio::any_io_executor& ex,
                                             std::chrono::milliseconds tick) {
  return std::make_shared<Deadlines>(ex, tick);
}

Deadlines::Deadlines(const asio::any_io_executor& ex, std::chrono::milliseconds tick)
    : timer_(std::in_place, ex), tick_(std::max(tick, std::chrono::milliseconds(1))) {}

std::chrono::milliseconds Deadlines::tickFor(std::chrono::milliseconds shortest) {
  return std::clamp(shortest / 10, std::chrono::milliseconds(5), std::chrono::milliseconds(500));
}

void Deadlines::add(Entry& e) {
  e.prev = nullptr;
  e.next = head_;
  if (head_ != nullptr) head_->prev = &e;
  head_ = &e;
  ++count_;
  if (!sweeping_ && !stopped_) startSweep();
}

void Deadlines::remove(Entry& e) {
  if (e.prev != nullptr) {
    e.prev->next = e.next;
  } else {
    head_ = e.next;
  }
  if (e.next != nullptr) e.next->prev = e.prev;
  e.prev = e.next = nullptr;
  --count_;
}

void Deadlines::stop() {
  stopped_ = true;
  // A pending wait completes (cancelled) and sees stopped_; it does not touch the timer.
  timer_.reset();
}

// The wait holds a reference to the object, so a sweep never runs on a destroyed one;
// it stops re-arming once nothing is registered.
void Deadlines::startSweep() {
  sweeping_ = true;
  timer_->expires_after(tick_);
  timer_->async_wait([self = shared_from_this()](const boost::system::error_code&) {
    if (self->stopped_) {
      self->sweeping_ = false;
      return;
    }
    self->sweep();
    if (self->count_ == 0) {
      self->sweeping_ = false;
      return;
    }
    self->startSweep();
  });
}

void Deadlines::sweep() {
  const Clock::time_point now = Clock::now();
  for (Entry* e = head_; e != nullptr; e = e->next) {
    // Cancelled again on every sweep while past due: an operation started after the
    // first cancellation must not wait forever either.
    if (e->deadline > now || e->socket == nullptr) continue;
    e->expired = true;
    boost::system::error_code ignored;
    e->socket->cancel(ignored);
  }
}

}  // namespace eg::net
