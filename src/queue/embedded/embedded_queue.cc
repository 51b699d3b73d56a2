#include "queue/embedded/embedded_queue.h"

#include <algorithm>
#include <cstring>

#include <spdlog/spdlog.h>

#include "queue/record.h"

namespace eg::queue {
namespace {

// Record types: an accepted event's deliveries (slots in a row), one delivery that
// replaces another slot (a retry, a dead letter, a compacted copy), completed slots.
constexpr char kFresh = 'D';
constexpr char kMoved = 'R';
constexpr char kDone = 'A';
constexpr std::size_t kFreshPrefix = 1 + 8;      // type, first slot
constexpr std::size_t kMovedPrefix = 1 + 8 + 8;  // type, slot, replaced slot
constexpr std::size_t kMaxAcksPerRecord = 1 << 16;

// The oldest segment is compacted once this many segments exist (it is then this many
// behind the newest), or once the log is over half its room.
constexpr std::size_t kCompactAfterSegments = 4;
constexpr auto kStatsEvery = std::chrono::milliseconds(250);
constexpr auto kIdleWake = std::chrono::seconds(1);
// Completions and retries are written with the next enqueue's records, or after this.
constexpr auto kLazyFlush = std::chrono::milliseconds(50);

void store64(char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint64_t load64(const char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

EmbeddedQueueOptions normalized(EmbeddedQueueOptions o) {
  if (o.segmentBytes == 0) {
    o.segmentBytes = std::clamp<uint64_t>(o.maxBytes / 64, 64 << 10, 16 << 20);
  }
  o.readAhead = std::max<std::size_t>(o.readAhead, 1);
  o.maxTimers = std::max<std::size_t>(o.maxTimers, 1);
  return o;
}

Error writeFailed(const Error& e) {
  return Error::unavailable("cannot write the delivery queue: " + e.message);
}

}  // namespace

EmbeddedQueue::EmbeddedQueue(EmbeddedQueueOptions options) : options_(normalized(std::move(options))) {}

EmbeddedQueue::~EmbeddedQueue() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Status EmbeddedQueue::start() {
  uint64_t records = 0;
  auto opened = log_.open(options_.dir, options_.segmentBytes,
                          [&](SegmentLog::Position at, std::string_view body) {
                            ++records;
                            replay(at, body);
                          });
  if (!opened) return opened;
  fresh_.cursor.seek(log_.begin());
  retries_.cursor.seek(log_.begin());
  logBytes_ = log_.bytes();
  liveCount_ = live_.count();
  if (live_.count() > 0) {
    spdlog::info("queue: {} record(s) in {} segment(s) replayed: {} delivery(ies) to make",
                 records, log_.segments().size(), live_.count());
  }
  thread_ = std::thread([this] { run(); });
  return {};
}

std::string EmbeddedQueue::describe() const {
  return "embedded (log in " + options_.dir + ", " + std::to_string(liveCount_.load()) +
         " delivery(ies) waiting, " + std::to_string(logBytes_.load()) + " of " +
         std::to_string(options_.maxBytes) + " bytes)";
}

Stats EmbeddedQueue::stats() const {
  Stats s;
  s.deliveries = liveCount_.load(std::memory_order_relaxed);
  s.bytes = logBytes_.load(std::memory_order_relaxed);
  const int64_t oldest = oldestAcceptedMs_.load(std::memory_order_relaxed);
  if (s.deliveries > 0 && oldest > 0) {
    s.oldestSeconds = std::max<double>(0, (nowMs() - oldest) / 1000.0);
  }
  return s;
}

// ---- callers' side ----

void EmbeddedQueue::push(Op op, bool urgent) { push(std::span<Op>(&op, 1), urgent); }

void EmbeddedQueue::push(std::span<Op> ops, bool urgent) {
  std::unique_lock lock(mu_);
  if (stopping_ || (closed_ && ops.front().kind == Op::kEnqueue)) {
    lock.unlock();
    for (Op& op : ops) {
      if (op.kind != Op::kEnqueue) continue;
      reservedBytes_ -= op.frameBytes;
      op.done(Error::unavailable("the delivery queue is closed"));
    }
    return;
  }
  for (Op& op : ops) {
    if (op.kind != Op::kEnqueue) leased_.erase(op.slot);
    inbox_.push_back(std::move(op));
  }
  const bool wake = urgent && !urgent_;
  urgent_ = urgent_ || urgent;
  lock.unlock();
  if (wake) wake_.notify_one();
}

EmbeddedQueue::Op EmbeddedQueue::enqueueOp(EnqueueRequest request) {
  Op op{Op::kEnqueue};
  // Encoded here, on the caller's thread; the queue thread fills in the prefix.
  op.body.reserve(kFreshPrefix + encodedNewSize(*request.event, request.targets));
  op.body.assign(kFreshPrefix, '\0');
  encodeNew(op.body, *request.event, request.targets);
  op.frameBytes = SegmentLog::kFrameHeader + op.body.size();
  op.request = std::move(request);
  return op;
}

Status EmbeddedQueue::reserve(uint64_t frameBytes) {
  uint64_t reserved = reservedBytes_.load();
  do {
    if (logBytes_.load() + reserved + frameBytes > options_.maxBytes) {
      return Error::unavailable("the delivery queue is full (-queue-max-bytes " +
                                std::to_string(options_.maxBytes) + "), retry later");
    }
  } while (!reservedBytes_.compare_exchange_weak(reserved, reserved + frameBytes));
  return {};
}

void EmbeddedQueue::enqueue(EnqueueRequest request, EnqueueHandler done) {
  if (request.targets.empty()) {
    done(Status{});
    return;
  }
  Op op = enqueueOp(std::move(request));
  if (auto room = reserve(op.frameBytes); !room) {
    done(std::move(room));
    return;
  }
  op.done = std::move(done);
  push(std::move(op), true);
}

void EmbeddedQueue::enqueueAll(std::vector<EnqueueRequest> requests, EnqueueHandler done) {
  std::erase_if(requests, [](const EnqueueRequest& r) { return r.targets.empty(); });
  if (requests.empty()) {
    done(Status{});
    return;
  }
  // One record per event, as enqueue writes; room for all of them is taken at once.
  std::vector<Op> ops;
  ops.reserve(requests.size());
  uint64_t frameBytes = 0;
  for (EnqueueRequest& request : requests) {
    ops.push_back(enqueueOp(std::move(request)));
    frameBytes += ops.back().frameBytes;
  }
  if (auto room = reserve(frameBytes); !room) {
    done(std::move(room));
    return;
  }
  const EnqueueHandler part = allParts(ops.size(), std::move(done));
  for (Op& op : ops) op.done = part;
  push(std::span<Op>(ops), true);
}

std::vector<Lease> EmbeddedQueue::takeLocked(std::size_t max) {
  const std::size_t n = std::min(max, ready_.size());
  std::vector<Lease> leases;
  leases.reserve(n);
  for (std::size_t i = 0; i < n; ++i) {
    Ready& r = ready_.front();
    leased_.emplace(r.slot, r.delivery.event ? r.delivery.event->acceptedAtMs : 0);
    leases.push_back(Lease{std::move(r.delivery), r.slot, nullptr});
    ready_.pop_front();
  }
  return leases;
}

void EmbeddedQueue::take(std::size_t max, TakeHandler handler) {
  std::unique_lock lock(mu_);
  if (closed_ || stopping_) {
    lock.unlock();
    handler({});
    return;
  }
  if (ready_.empty()) {
    waiter_ = std::move(handler);
    waiterMax_ = std::max<std::size_t>(max, 1);
    // Deliveries may wait on disk: the queue thread reads them (and answers the waiter).
    const bool wake = !refill_;
    refill_ = true;
    lock.unlock();
    if (wake) wake_.notify_one();
    return;
  }
  std::vector<Lease> leases = takeLocked(std::max<std::size_t>(max, 1));
  // Below half the read-ahead: the queue thread tops it up from disk, if it has to.
  const bool low = ready_.size() < options_.readAhead / 2 && !refill_;
  refill_ = refill_ || low;
  lock.unlock();
  if (low) wake_.notify_one();
  handler(std::move(leases));
}

void EmbeddedQueue::complete(Lease lease) {
  std::lock_guard lock(mu_);
  if (stopping_) return;
  leased_.erase(lease.id);
  acks_.push_back(lease.id);
}

void EmbeddedQueue::retry(Lease lease, uint32_t attempts, WallMs dueAtMs, std::string lastError) {
  Op op{Op::kRetry};
  op.slot = lease.id;
  op.delivery = std::move(lease.delivery);
  op.delivery.attempts = attempts;
  op.delivery.dueAtMs = dueAtMs;
  op.delivery.lastError = std::move(lastError);
  op.body.assign(kMovedPrefix, '\0');
  encodeDeliveries(op.body, std::span<const Delivery>(&op.delivery, 1));
  push(std::move(op), dueAtMs <= nowMs() + kLazyFlush.count());
}

void EmbeddedQueue::replace(Lease lease, Delivery replacement) {
  Op op{Op::kReplace};
  op.slot = lease.id;
  op.delivery = std::move(replacement);
  op.body.assign(kMovedPrefix, '\0');
  encodeDeliveries(op.body, std::span<const Delivery>(&op.delivery, 1));
  push(std::move(op), true);
}

void EmbeddedQueue::release(Lease lease) {
  std::unique_lock lock(mu_);
  if (stopping_) return;
  leased_.erase(lease.id);
  ready_.push_front(Ready{lease.id, std::move(lease.delivery)});
  makeReady(lock, {}, {});
}

void EmbeddedQueue::close() {
  std::unique_lock lock(mu_);
  closed_ = true;
  TakeHandler waiter = std::move(waiter_);
  waiter_ = nullptr;
  lock.unlock();
  if (waiter) waiter({});
}

void EmbeddedQueue::makeReady(std::unique_lock<std::mutex>& lock, std::vector<Ready> fresh,
                              std::vector<Ready> first) {
  for (auto it = first.rbegin(); it != first.rend(); ++it) ready_.push_front(std::move(*it));
  for (Ready& r : fresh) ready_.push_back(std::move(r));
  if (!waiter_ || ready_.empty()) {
    lock.unlock();
    return;
  }
  std::vector<Lease> leases = takeLocked(waiterMax_);
  TakeHandler waiter = std::move(waiter_);
  waiter_ = nullptr;
  lock.unlock();
  waiter(std::move(leases));
}

// ---- the queue thread ----

void EmbeddedQueue::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (!urgent_ && !refill_ && !stopping_) {
      auto wakeAt = std::chrono::steady_clock::now() + kIdleWake;
      if (!inbox_.empty() || !acks_.empty()) {
        wakeAt = std::chrono::steady_clock::now() + kLazyFlush;
      }
      if (!timers_.empty()) {
        const auto wait = std::chrono::milliseconds(std::max<int64_t>(timers_.front().due - nowMs(), 0));
        wakeAt = std::min(wakeAt, std::chrono::steady_clock::now() + wait);
      }
      if (live_.count() > 0) wakeAt = std::min(wakeAt, nextStats_);
      wake_.wait_until(lock, wakeAt);
      if (urgent_ && !stopping_ && inbox_.size() * 2 < lastBurst_) {
        wake_.wait_for(lock, std::chrono::microseconds(100));
      }
    }
    std::vector<Op> ops;
    std::vector<uint64_t> acks;
    if (!inbox_.empty()) lastBurst_ = inbox_.size();
    ops.swap(inbox_);
    acks.swap(acks_);
    urgent_ = false;
    refill_ = false;
    const bool stop = stopping_;
    lock.unlock();
    process(ops, acks);
    lock.lock();
    if (stop && inbox_.empty() && acks_.empty()) break;
  }
  lock.unlock();
  // What was settled last is durable too: a clean stop repeats no delivery.
  if (auto st = log_.sync(); !st) spdlog::error("queue: {}", st.error().message);
}

void EmbeddedQueue::process(std::vector<Op>& ops, std::vector<uint64_t>& acks) {
  std::vector<EnqueueHandler> accepted;
  std::vector<Ready> fresh;  // accepted deliveries that go straight to memory
  std::vector<Ready> dueNow; // retries and dead letters due already
  for (Op& op : ops) {
    switch (op.kind) {
      case Op::kEnqueue: {
        auto at = appendDeliveries(op, fresh);
        reservedBytes_ -= op.frameBytes;
        if (!at) {
          spdlog::error("queue: {}", at.error().message);
          op.done(writeFailed(at.error()));
        } else {
          accepted.push_back(std::move(op.done));
        }
        break;
      }
      case Op::kRetry:
      case Op::kReplace: {
        const uint64_t slot = nextSlot_++;
        auto at = appendReplacement(op, slot);
        if (!at) {
          // The old record stays live on disk: the delivery comes back after a restart.
          spdlog::error("queue: cannot keep a delivery's new state: {}", at.error().message);
          break;
        }
        kill(op.slot);
        scheduleRetry(slot, *at, std::move(op.delivery), dueNow);
        break;
      }
    }
  }

  for (uint64_t slot : acks) kill(slot);
  for (std::size_t i = 0; i < acks.size(); i += kMaxAcksPerRecord) {
    const std::size_t n = std::min(kMaxAcksPerRecord, acks.size() - i);
    std::string body(1 + 4 + 8 * n, '\0');
    body[0] = kDone;
    const auto count = static_cast<uint32_t>(n);
    std::memcpy(body.data() + 1, &count, 4);
    std::memcpy(body.data() + 5, acks.data() + i, 8 * n);
    if (auto at = log_.append(std::move(body)); !at) {
      spdlog::error("queue: cannot record completed deliveries: {}", at.error().message);
    }
  }

  Status written = log_.flush();
  if (written && !accepted.empty()) written = log_.sync();
  if (!written) spdlog::error("queue: {}", written.error().message);
  logBytes_ = log_.bytes();
  for (auto& done : accepted) {
    if (written) {
      done(Status{});
    } else {
      done(writeFailed(written.error()));
    }
  }

  // Only now, durable, may the new deliveries be handed out.
  {
    std::unique_lock lock(mu_);
    makeReady(lock, std::move(fresh), std::move(dueNow));
  }
  refill();
  collect();
  liveCount_ = live_.count();
  if (std::chrono::steady_clock::now() >= nextStats_) publishStats();
}

// ---- records and slots ----

void EmbeddedQueue::replay(SegmentLog::Position at, std::string_view body) {
  switch (body.empty() ? '\0' : body.front()) {
    case kFresh: {
      if (body.size() < kFreshPrefix) break;
      const uint64_t first = load64(body.data() + 1);
      auto head = decodeHead(body.substr(kFreshPrefix));
      if (!head) {
        spdlog::warn("queue: skipping a record at segment {} offset {}: {}", at.segment,
                     at.offset, head.error().message);
        return;
      }
      for (uint32_t i = 0; i < head->count; ++i) live(first + i, at);
      nextSlot_ = std::max(nextSlot_, first + head->count);
      return;
    }
    case kMoved: {
      if (body.size() < kMovedPrefix) break;
      const uint64_t slot = load64(body.data() + 1);
      live(slot, at);
      kill(load64(body.data() + 9));
      nextSlot_ = std::max(nextSlot_, slot + 1);
      return;
    }
    case kDone: {
      uint32_t n = 0;
      if (body.size() < 5) break;
      std::memcpy(&n, body.data() + 1, 4);
      if (body.size() != 5 + 8 * static_cast<std::size_t>(n)) break;
      for (uint32_t i = 0; i < n; ++i) kill(load64(body.data() + 5 + 8 * i));
      return;
    }
    default:
      break;
  }
  spdlog::warn("queue: skipping an unknown record at segment {} offset {}", at.segment, at.offset);
}

EmbeddedQueue::SegmentSlots& EmbeddedQueue::segmentOf(SegmentLog::Position at) {
  if (segments_.empty() || segments_.back().number < at.segment) {
    const uint64_t from = segments_.empty() ? nextSlot_ : segments_.back().end;
    segments_.push_back(SegmentSlots{at.segment, from, from, 0});
    return segments_.back();
  }
  for (auto it = segments_.rbegin(); it != segments_.rend(); ++it) {
    if (it->number == at.segment) return *it;
  }
  return segments_.back();  // not reached: records are added in segment order
}

EmbeddedQueue::SegmentSlots* EmbeddedQueue::segmentOfSlot(uint64_t slot) {
  auto it = std::upper_bound(segments_.begin(), segments_.end(), slot,
                             [](uint64_t s, const SegmentSlots& g) { return s < g.end; });
  if (it == segments_.end() || it->first > slot) return nullptr;
  return &*it;
}

void EmbeddedQueue::live(uint64_t slot, SegmentLog::Position at) {
  SegmentSlots& segment = segmentOf(at);
  if (segment.first == segment.end) segment.first = slot;
  segment.end = std::max(segment.end, slot + 1);
  if (!live_.test(slot)) {
    live_.set(slot);
    ++segment.live;
  }
}

void EmbeddedQueue::kill(uint64_t slot) {
  if (!live_.clear(slot)) return;
  if (SegmentSlots* segment = segmentOfSlot(slot)) --segment->live;
}

Result<SegmentLog::Position> EmbeddedQueue::appendDeliveries(Op& op, std::vector<Ready>& fresh) {
  const auto n = static_cast<uint64_t>(op.request.targets.size());
  const uint64_t first = nextSlot_;
  nextSlot_ += n;
  op.body[0] = kFresh;
  store64(op.body.data() + 1, first);
  auto at = log_.append(std::move(op.body));
  if (!at) return at;
  for (uint64_t i = 0; i < n; ++i) live(first + i, *at);
  if (!fresh_.caughtUp) return at;  // the reader finds it on disk
  if (fresh.size() >= readyRoom()) {
    fresh_.caughtUp = false;
    fresh_.cursor.seek(*at);
    freshBehindMs_ = op.request.event->acceptedAtMs;
    return at;
  }
  for (uint64_t i = 0; i < n; ++i) {
    Delivery d;
    d.event = op.request.event;
    d.target = std::move(op.request.targets[i]);
    d.dueAtMs = op.request.event->acceptedAtMs;
    fresh.push_back(Ready{first + i, std::move(d)});
  }
  return at;
}

Result<SegmentLog::Position> EmbeddedQueue::appendReplacement(Op& op, uint64_t newSlot) {
  op.body[0] = kMoved;
  store64(op.body.data() + 1, newSlot);
  store64(op.body.data() + 9, op.slot);
  auto at = log_.append(std::move(op.body));
  if (at) live(newSlot, *at);
  return at;
}

void EmbeddedQueue::scheduleRetry(uint64_t slot, SegmentLog::Position at, Delivery delivery,
                                  std::vector<Ready>& dueNow) {
  if (!retries_.caughtUp) return;  // the reader finds it on disk
  if (delivery.dueAtMs <= nowMs() && dueNow.size() < readyRoom()) {
    dueNow.push_back(Ready{slot, std::move(delivery)});
    return;
  }
  if (timers_.size() < options_.maxTimers) {
    timers_.push_back(Timer{delivery.dueAtMs, slot, at, delivery.event->acceptedAtMs});
    std::push_heap(timers_.begin(), timers_.end(), Later{});
    return;
  }
  retries_.caughtUp = false;
  retries_.cursor.seek(at);
}

Result<Delivery> EmbeddedQueue::readOne(SegmentLog::Position at, uint64_t slot) {
  auto body = log_.read(at);
  if (!body) return std::move(body).error();
  std::string_view view(*body);
  uint64_t first = 0;
  if (!view.empty() && view.front() == kMoved && view.size() >= kMovedPrefix) {
    first = load64(view.data() + 1);
    view.remove_prefix(kMovedPrefix);
  } else if (!view.empty() && view.front() == kFresh && view.size() >= kFreshPrefix) {
    first = load64(view.data() + 1);
    view.remove_prefix(kFreshPrefix);
  } else {
    return Error::internal("not a delivery record");
  }
  auto deliveries = decodeDeliveries(view);
  if (!deliveries) return std::move(deliveries).error();
  if (slot < first || slot - first >= deliveries->size()) {
    return Error::internal("the record does not hold that slot");
  }
  return std::move((*deliveries)[slot - first]);
}

// ---- filling memory from disk ----

std::size_t EmbeddedQueue::readyRoom() {
  std::lock_guard lock(mu_);
  return ready_.size() >= options_.readAhead ? 0 : options_.readAhead - ready_.size();
}

std::vector<EmbeddedQueue::Ready> EmbeddedQueue::promoteDueTimers(std::size_t room) {
  std::vector<Ready> due;
  const WallMs now = nowMs();
  while (!timers_.empty() && timers_.front().due <= now && due.size() < room) {
    std::pop_heap(timers_.begin(), timers_.end(), Later{});
    const Timer t = timers_.back();
    timers_.pop_back();
    if (!live_.test(t.slot)) continue;
    auto d = readOne(t.at, t.slot);
    if (!d) {
      spdlog::error("queue: cannot read a retry back (segment {} offset {}): {}; it is made "
                    "again after a restart", t.at.segment, t.at.offset, d.error().message);
      continue;
    }
    due.push_back(Ready{t.slot, std::move(d).value()});
  }
  return due;
}

std::vector<EmbeddedQueue::Ready> EmbeddedQueue::readFresh(std::size_t room) {
  std::vector<Ready> out;
  while (!fresh_.caughtUp && out.size() < room) {
    auto record = fresh_.cursor.next(log_);
    if (!record) {
      fresh_.caughtUp = true;
      break;
    }
    const std::string_view body = record->second;
    if (body.size() < kFreshPrefix || body.front() != kFresh) continue;
    const uint64_t first = load64(body.data() + 1);
    auto deliveries = decodeDeliveries(body.substr(kFreshPrefix));
    if (!deliveries) {
      spdlog::error("queue: unreadable record at segment {} offset {}: {}", record->first.segment,
                    record->first.offset, deliveries.error().message);
      continue;
    }
    for (std::size_t i = 0; i < deliveries->size(); ++i) {
      if (!live_.test(first + i)) continue;
      freshBehindMs_ = (*deliveries)[i].event->acceptedAtMs;
      out.push_back(Ready{first + i, std::move((*deliveries)[i])});
    }
  }
  return out;
}

void EmbeddedQueue::readRetries() {
  while (!retries_.caughtUp && timers_.size() < options_.maxTimers) {
    auto record = retries_.cursor.next(log_);
    if (!record) {
      retries_.caughtUp = true;
      break;
    }
    const std::string_view body = record->second;
    if (body.size() < kMovedPrefix || body.front() != kMoved) continue;
    const uint64_t slot = load64(body.data() + 1);
    if (!live_.test(slot)) continue;
    auto deliveries = decodeDeliveries(body.substr(kMovedPrefix));
    if (!deliveries || deliveries->size() != 1) {
      spdlog::error("queue: unreadable record at segment {} offset {}", record->first.segment,
                    record->first.offset);
      continue;
    }
    const Delivery& d = deliveries->front();
    timers_.push_back(Timer{d.dueAtMs, slot, record->first, d.event->acceptedAtMs});
    std::push_heap(timers_.begin(), timers_.end(), Later{});
  }
}

// Tops the ready deliveries up to the read-ahead: retries that are due first, then
// fresh deliveries the cursor has yet to read.
void EmbeddedQueue::refill() {
  readRetries();
  std::size_t room = readyRoom();
  if (room == 0) return;
  std::vector<Ready> due = promoteDueTimers(room);
  room -= std::min(room, due.size());
  std::vector<Ready> fresh = readFresh(room);
  if (due.empty() && fresh.empty()) return;
  std::unique_lock lock(mu_);
  makeReady(lock, std::move(fresh), std::move(due));
}

// ---- keeping the log short ----

void EmbeddedQueue::collect() {
  auto removeDead = [this] {
    while (log_.segments().size() >= 2) {
      const uint64_t number = log_.segments().front().number;
      const bool tracked = !segments_.empty() && segments_.front().number == number;
      if (tracked && segments_.front().live > 0) break;
      if (auto st = log_.removeOldest(); !st) {
        spdlog::error("queue: {}", st.error().message);
        break;
      }
      if (tracked) segments_.pop_front();
    }
  };
  removeDead();
  // A few live deliveries keeping an old, mostly dead segment: copy them forward. A
  // segment still mostly live is left alone; copying it would only grow the log.
  if (log_.segments().size() >= 2 && !segments_.empty() &&
      segments_.front().number == log_.segments().front().number &&
      (log_.segments().size() >= kCompactAfterSegments || log_.bytes() > options_.maxBytes / 2)) {
    const SegmentSlots& oldest = segments_.front();
    if (oldest.live * 4 <= oldest.end - oldest.first && compactOldest()) removeDead();
  }
  logBytes_ = log_.bytes();
}

bool EmbeddedQueue::compactOldest() {
  SegmentSlots& s = segments_.front();
  // Only what waits in memory can be copied forward: not a delivery in flight, nor one
  // a reader has yet to reach.
  if (!retries_.caughtUp) return false;
  if (!fresh_.caughtUp && fresh_.cursor.position().segment <= s.number) return false;
  auto inside = [&s](uint64_t slot) { return slot >= s.first && slot < s.end; };
  // Ready deliveries are copied under the lock, so that none is taken meanwhile.
  std::lock_guard lock(mu_);
  for (const auto& [slot, accepted] : leased_) {
    if (inside(slot)) return false;
  }
  uint64_t held = 0;
  for (const Timer& t : timers_) held += inside(t.slot) ? 1 : 0;
  for (const Ready& r : ready_) held += inside(r.slot) ? 1 : 0;
  if (held != s.live) return false;

  const uint64_t number = s.number;
  auto copy = [&](uint64_t oldSlot, const Delivery& d) -> std::optional<std::pair<uint64_t, SegmentLog::Position>> {
    std::string body(kMovedPrefix, '\0');
    encodeDeliveries(body, std::span<const Delivery>(&d, 1));
    Op op{Op::kRetry};
    op.slot = oldSlot;
    op.body = std::move(body);
    const uint64_t slot = nextSlot_++;
    auto at = appendReplacement(op, slot);
    if (!at) return std::nullopt;
    kill(oldSlot);
    return std::make_pair(slot, *at);
  };
  uint64_t copied = 0;
  for (Timer& t : timers_) {
    if (!inside(t.slot)) continue;
    auto d = readOne(t.at, t.slot);
    if (!d) return false;
    auto moved = copy(t.slot, *d);
    if (!moved) return false;
    t.slot = moved->first;
    t.at = moved->second;
    ++copied;
  }
  for (Ready& r : ready_) {
    if (!inside(r.slot)) continue;
    auto moved = copy(r.slot, r.delivery);
    if (!moved) return false;
    r.slot = moved->first;
    ++copied;
  }
  if (auto st = log_.flush(); !st) {
    spdlog::error("queue: {}", st.error().message);
    return false;
  }
  spdlog::debug("queue: compacted segment {}: {} delivery(ies) copied forward", number, copied);
  return true;
}

void EmbeddedQueue::publishStats() {
  nextStats_ = std::chrono::steady_clock::now() + kStatsEvery;
  liveCount_ = live_.count();
  int64_t oldest = 0;
  auto consider = [&](int64_t accepted) {
    if (accepted > 0 && (oldest == 0 || accepted < oldest)) oldest = accepted;
  };
  {
    std::lock_guard lock(mu_);
    for (const Ready& r : ready_) consider(r.delivery.event ? r.delivery.event->acceptedAtMs : 0);
    for (const auto& [slot, accepted] : leased_) consider(accepted);
  }
  for (const Timer& t : timers_) consider(t.accepted);
  // Deliveries still on disk: fresh ones are read in the order they came, so the last
  // one read is about as old as the oldest left; retries past the memory's limit are
  // not counted.
  if (!fresh_.caughtUp) consider(freshBehindMs_);
  oldestAcceptedMs_ = oldest;
}

}  // namespace eg::queue
